"""Fetching pages again with Postgres: adds and changes go through the job queue."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest

from bot.client import VerbatimBot
from bot.exts.docs._adding import receive
from bot.exts.docs._refresh import Refresher
from index import (
    Engine,
    EngineSettings,
    JobQueue,
    JobRunner,
    Library,
    Page,
    open_jobs,
    prepare,
    put_add,
)
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder
from tests.unit.test_recrawl_fetch import V2, Site, fetcher, site

__all__ = ["site"]  # the local server's fixture
GUILD = 5151


class Bot:
    """What the refresher uses of the bot, with the database's job queue."""

    def __init__(self, library: Library, jobs: JobQueue) -> None:
        self.library, self.jobs = library, jobs

    async def run_engine(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)


@contextlib.asynccontextmanager
async def no_wait(guild_id: int) -> AsyncIterator[None]:
    yield


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


def audited(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT action FROM audit WHERE tenant = %s ORDER BY id", (str(GUILD),)
        ).fetchall()
    return [action for (action,) in rows]


async def test_a_changed_page_is_replaced_by_a_job_and_its_schedule_follows(
    rig: tuple[JobQueue, Library, JobRunner], site: tuple[Site, str], database_url: str
) -> None:
    queue, library, runner = rig
    served, url = site
    upload = await receive(None, url, fetcher(), 10)
    prepared = prepare(upload.data, filename=upload.filename)
    page = Page(url, "weekly", upload.etag, upload.last_modified)
    put_add(queue, GUILD, prepared, added_by="ann", source_url=url, page=page)
    added = await asyncio.to_thread(runner.run_once)
    assert added is not None and added.state == "done", added
    doc = str(added.result["doc_id"])  # type: ignore[index]
    assert list(library.pages.read(GUILD)) == [doc]  # kept in the server_state table

    served.body, served.etag = V2, '"v2"'
    bot = Refresher(cast(VerbatimBot, Bot(library, queue)), fetcher=fetcher, changing=no_wait)
    now = datetime.now(UTC) + timedelta(days=8)
    assert await bot.run_once(now) == {(GUILD, doc): "changed"}
    assert [e.doc_id for e in library.entries(GUILD)] == [doc]  # queued, not yet done
    job = await asyncio.to_thread(runner.run_once)
    assert job is not None and job.kind == "refresh" and job.state == "done", job
    (entry,) = library.entries(GUILD)
    assert entry.doc_id != doc and list(library.pages.read(GUILD)) == [entry.doc_id]
    answer = library.engine_for(GUILD).ask("How high does the spring tide at Porthmoor rise?")
    assert "6.4 metres" in " ".join(q.text for q in answer.quotes + answer.more)
    assert audited(database_url) == ["add", "refresh-replaced", "refresh"]


async def test_a_gone_page_is_removed_by_a_job(
    rig: tuple[JobQueue, Library, JobRunner], site: tuple[Site, str], database_url: str
) -> None:
    queue, library, runner = rig
    served, url = site
    upload = await receive(None, url, fetcher(), 10)
    page = Page(url, "daily", upload.etag, upload.last_modified)
    library.add(GUILD, prepare(upload.data), added_by="ann", source_url=url, page=page)
    served.status = 410
    bot = Refresher(cast(VerbatimBot, Bot(library, queue)), fetcher=fetcher, changing=no_wait)
    outcomes = [
        list((await bot.run_once(datetime.now(UTC) + timedelta(days=days))).values())
        for days in (2, 3, 4)
    ]
    assert outcomes == [["gone"], ["gone"], ["removed"]]
    job = await asyncio.to_thread(runner.run_once)
    assert job is not None and job.kind == "remove" and job.state == "done", job
    assert library.entries(GUILD) == [] and library.pages.read(GUILD) == {}
    assert audited(database_url) == ["add", "gone"]
