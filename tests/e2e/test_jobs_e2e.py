"""`python -m bot worker` as real processes: one killed mid-job, the next one finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from index import Engine, EngineSettings, Library, open_jobs, prepare, put_add
from index.retrieval.encoder import SentenceEncoder
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder
from tests.support.stores import stored_index
from tests.support.timing import WAIT_SECONDS

pytestmark = pytest.mark.slow
GUILD = 777000111
NAMES = ["Amara", "Bjorn", "Chidi", "Dagny", "Emeka", "Freya"]


def logbook(paragraphs: int = 60, per_paragraph: int = 10) -> str:
    """A made-up keeper's logbook long enough to embed in several steps (256 windows each)."""
    lines = ["The Karvik logbook"]
    for p in range(paragraphs):
        sentences = []
        for s in range(per_paragraph):
            day = p * per_paragraph + s + 1
            name = NAMES[day % len(NAMES)]
            sentences.append(
                f"On day {day}, {name} counted {(day * 37) % 211} ships passing the northern cape."
            )
        lines.append(" ".join(sentences))
    return "\n\n".join(lines) + "\n"


def wait_until(check: Callable[[], bool], what: str, *processes: subprocess.Popen[Any]) -> None:
    """Poll until `check()` holds; fail at once if a process that should be working exited."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        for process in processes:
            assert process.poll() is None, f"the worker exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def sql(url: str, statement: str, *values: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(statement.encode(), values).fetchall()


def test_a_worker_killed_mid_job_is_replaced_and_the_document_is_served_whole(
    tmp_path: Path, database_url: str, encoder: SentenceEncoder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tea.txt").write_text(
        "Tea\n\nTea is brewed from the dried leaves of the tea plant.\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        VERBATIM_DATA_DIR=str(tmp_path),
        VERBATIM_CORPUS_DIR=str(corpus),
        VERBATIM_GUILDS_DIR=str(tmp_path / "guilds"),
        VERBATIM_DATABASE_URL=database_url,
        VERBATIM_JOBS_LEASE_SECONDS="2",
        VERBATIM_JOBS_POLL_SECONDS="0.2",
    )
    text = logbook()
    prepared = prepare(text.encode(), filename="logbook.txt", title="Karvik logbook")
    queue = open_jobs(EngineSettings(database_url=database_url))
    assert queue is not None
    job_id = put_add(queue, GUILD, prepared, added_by="tester (1)")

    def start(log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "worker"],
                cwd=tmp_path,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def embedding_underway() -> bool:
        job = queue.get(job_id)
        progress = (job.progress if job else None) or {}
        return progress.get("phase") == "embedding" and 0 < progress["done"] < progress["total"]

    first = start(tmp_path / "first.log")
    try:
        wait_until(embedding_underway, "the first worker was embedding", first)
        first.send_signal(signal.SIGKILL)
        first.wait(WAIT_SECONDS)
    finally:
        first.kill()
    cut = queue.get(job_id)
    assert cut is not None and cut.state == "running"  # killed mid-job, its lease still out
    # Nothing half-written: the document's rows are all there or not at all.
    windows = "SELECT count(*) FROM windows WHERE tenant = %s AND doc_id LIKE 'karvik-logbook%%'"
    assert sql(database_url, windows, str(GUILD)) == [(0,)]

    second = start(tmp_path / "second.log")
    try:

        def finished() -> bool:
            job = queue.get(job_id)
            return job is not None and job.finished

        wait_until(finished, "the job to finish", second)
        second.send_signal(signal.SIGTERM)
        assert second.wait(WAIT_SECONDS) == 0
    finally:
        second.kill()
    log = (tmp_path / "second.log").read_text()
    job = queue.get(job_id)
    assert job is not None and (job.state, job.attempts) == ("done", 2), (job, log)
    assert job.worker is not None and job.worker.startswith("worker@")
    assert f"Job {job_id} (add, server {GUILD}, attempt 2): added “Karvik logbook”" in log
    assert "Received SIGTERM" in log and database_url not in log

    # The document is served whole: its text and every sentence as a fresh local index has it.
    assert job.result is not None
    doc_id = str(job.result["doc_id"])
    fresh = tmp_path / "fresh"
    (fresh / "corpus").mkdir(parents=True)
    (fresh / "corpus" / "logbook.txt").write_bytes(prepared.payload)
    local = Engine.open(
        EngineSettings(corpus_dir=fresh / "corpus", index_dir=fresh / "index"),
        encoder=HashingEncoder(),
        verifier=bundled_verifier(),
    )
    spans = [(s.start, s.end) for s in stored_index(local).documents[0].sentences]
    stored = sql(
        database_url,
        "SELECT sentence_start, sentence_end FROM windows WHERE tenant = %s AND doc_id = %s "
        "ORDER BY sentence",
        str(GUILD),
        doc_id,
    )
    assert stored == spans and job.result["sentences"] == len(spans)
    [(body,)] = sql(
        database_url,
        "SELECT body FROM documents WHERE tenant = %s AND doc_id = %s",
        str(GUILD),
        doc_id,
    )
    assert body == text

    settings = EngineSettings(
        corpus_dir=corpus, index_dir=tmp_path / "index", database_url=database_url
    )
    shared = Engine.open(settings, encoder=encoder, verifier=bundled_verifier())
    engine = Library(shared, tmp_path / "guilds").engine_for(GUILD)
    answer = engine.ask("How many ships did Chidi count on day 20?")
    quotes = [*answer.quotes, *answer.closest]
    assert quotes and any(q.document == doc_id for q in quotes)
    for quote in quotes:
        if quote.document == doc_id:
            assert quote.text == body[quote.start : quote.end]
