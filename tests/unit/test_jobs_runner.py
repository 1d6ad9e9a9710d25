"""The job runner over a real Library on Postgres: adds, removals, re-indexes, and redoing."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from index import (
    Engine,
    EngineSettings,
    JobQueue,
    JobRunner,
    Library,
    open_jobs,
    prepare,
    put_add,
    put_reindex,
    put_remove,
)
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder

GUILD = 4242
TEA = (
    "Tea\n\nTea is brewed from the dried leaves of the tea plant. "
    "Green tea is steamed or pan-fired soon after picking.\n\n"
    "Black tea is left to oxidise before it is dried."
)


@pytest.fixture
def rig(tmp_path: Path, database_url: str) -> tuple[JobQueue, Library, JobRunner]:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    settings = EngineSettings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", database_url=database_url
    )
    shared = Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())
    library = Library(shared, tmp_path / "guilds")
    queue = open_jobs(settings)
    assert queue is not None
    return queue, library, JobRunner(queue, library, worker="test")


def test_an_add_job_stores_indexes_and_reports_the_document(
    rig: tuple[JobQueue, Library, JobRunner], database_url: str
) -> None:
    queue, library, runner = rig
    job_id = put_add(queue, GUILD, prepare(TEA.encode(), filename="tea.txt"), added_by="ann (1)")
    job = runner.run_once()
    assert job is not None and job.id == job_id and job.state == "done", job
    engine = library.engine_for(GUILD)
    info = next(s for s in engine.sources() if s.document == job.result["doc_id"])  # type: ignore[index]
    assert job.result == {
        "doc_id": info.document,
        "title": "Tea",
        "paragraphs": info.paragraphs,
        "sentences": info.sentences,
    }
    assert job.progress is not None and job.progress["phase"] == "embedding"
    assert job.progress["done"] == job.progress["total"] > 0
    assert [e.added_by for e in library.entries(GUILD)] == ["ann (1)"]
    answer = engine.ask("What is tea brewed from?")
    assert answer.answered and answer.quotes[0].document == info.document
    assert runner.run_once() is None  # nothing left


def test_an_add_redone_after_its_worker_died_completes_without_a_second_copy(
    rig: tuple[JobQueue, Library, JobRunner], database_url: str
) -> None:
    queue, library, runner = rig
    prepared = prepare(TEA.encode(), filename="tea.txt")
    job_id = put_add(queue, GUILD, prepared, added_by="ann (1)")
    dying = queue.claim("dying")
    assert dying is not None
    # The first attempt got as far as storing the document, then its worker was killed.
    library.add(GUILD, prepared, added_by="ann (1)")
    dying.close()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE jobs SET lease_until = now() - interval '1 s' WHERE id = %s", (job_id,)
        )
    job = runner.run_once()
    assert job is not None and job.id == job_id
    assert (job.state, job.attempts) == ("done", 2), job.error
    entries = library.entries(GUILD)
    assert len(entries) == 1 and job.result is not None
    assert job.result["doc_id"] == entries[0].doc_id and job.result["sentences"] > 0


def test_a_duplicate_add_fails_with_the_librarys_reason(
    rig: tuple[JobQueue, Library, JobRunner],
) -> None:
    queue, library, runner = rig
    prepared = prepare(TEA.encode(), filename="tea.txt")
    library.add(GUILD, prepared, added_by="ann (1)")
    put_add(queue, GUILD, prepared, added_by="bob (2)")
    job = runner.run_once()
    assert job is not None and job.state == "failed"
    assert job.error is not None and "already here" in job.error
    assert len(library.entries(GUILD)) == 1


def test_remove_and_reindex_jobs_report_what_they_did(
    rig: tuple[JobQueue, Library, JobRunner],
) -> None:
    queue, library, runner = rig
    added = library.add(GUILD, prepare(TEA.encode(), filename="tea.txt"), added_by="ann (1)")
    put_reindex(queue, GUILD, requested_by="ann (1)")
    reindexed = runner.run_once()
    assert reindexed is not None and reindexed.state == "done"
    assert reindexed.result is not None and reindexed.result["embedded"] == 0
    put_remove(queue, GUILD, added.entry.doc_id, title="Tea", removed_by="ann (1)")
    removed = runner.run_once()
    assert removed is not None and removed.state == "done"
    assert removed.result == {"doc_id": added.entry.doc_id, "title": "Tea"}
    assert library.entries(GUILD) == []
    assert "tea" not in {s.document for s in library.engine_for(GUILD).sources()}
    put_remove(queue, GUILD, added.entry.doc_id, title="Tea", removed_by="ann (1)")
    again = runner.run_once()
    assert again is not None and again.state == "failed"
    assert again.error is not None and "no document" in again.error
