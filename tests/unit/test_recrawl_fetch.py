"""Fetching pages again from a local server: 304s, same text, changed, failing and gone pages."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from aiohttp import web

from bot.client import VerbatimBot
from bot.exts.docs._adding import receive
from bot.exts.docs._embeds import library_embeds
from bot.exts.docs._fetch import Fetcher
from bot.exts.docs._refresh import Refresher
from index import Engine, EngineSettings, Library, Page, prepare
from tests.support.hashing_encoder import HashingEncoder

GUILD = 31
NAMES = {"docs.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]}


def page(body: str, script: str = "") -> bytes:
    return (
        f"<html><head><title>Tides</title><script>{script}</script></head><body><article>"
        f"<p>{body}</p><p>Neap tides at Porthmoor rise only 2.1 metres.</p></article></body></html>"
    ).encode()


V1 = page("The spring tide at Porthmoor rises 6.2 metres above the chart datum.")
V2 = page("The spring tide at Porthmoor rises 6.4 metres above the chart datum.")


@dataclass
class Site:
    """A page whose body, validators and status a test changes, and the requests it saw."""

    body: bytes = V1
    etag: str | None = '"v1"'
    last_modified: str | None = None
    status: int = 200
    redirect: str | None = None
    seen: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        if self.redirect:
            raise web.HTTPFound(self.redirect)
        if self.status != 200:
            return web.Response(status=self.status, text="no")
        headers = {"ETag": self.etag} if self.etag else {}
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        fresh = (self.etag and request.headers.get("If-None-Match") == self.etag) or (
            self.last_modified and request.headers.get("If-Modified-Since") == self.last_modified
        )
        if fresh:
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.body, content_type="text/html", headers=headers)


@pytest_asyncio.fixture
async def site() -> AsyncIterator[tuple[Site, str]]:
    served = Site()
    app = web.Application()
    app.router.add_get("/tides", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield served, f"http://docs.test:{port}/tides"
    await runner.cleanup()


async def resolver(host: str, port: int) -> list[str]:
    return NAMES[host]


def fetcher() -> Fetcher:
    # As the e2e tests do: only 127.0.0.1 is trusted, and only here.
    return Fetcher(resolver=resolver, allowed=(ipaddress.ip_network("127.0.0.1/32"),))


class Bot:
    """What the refresher uses of the bot: its library, its jobs (none) and its threads."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.jobs = None

    async def run_engine(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)


@contextlib.asynccontextmanager
async def no_wait(guild_id: int) -> AsyncIterator[None]:
    yield


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lighthouse.txt").write_text("The keeper climbed ninety steps.")
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "shared-index")
    return Library(Engine.open(settings, encoder=HashingEncoder()), tmp_path / "data")


def refresher(library: Library) -> Refresher:
    return Refresher(cast(VerbatimBot, Bot(library)), fetcher=fetcher, changing=no_wait)


async def add_page(library: Library, url: str, every: str = "weekly") -> str:
    """Add a page as /docs add does; return its document's id."""
    upload = await receive(None, url, fetcher(), 10)
    prepared = prepare(upload.data, filename=upload.filename)
    page = Page(url, every, upload.etag, upload.last_modified)
    added = library.add(GUILD, prepared, added_by="ann", source_url=upload.source_url, page=page)
    return added.entry.doc_id


def later(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def actions(library: Library) -> list[str]:
    lines = (library.folder(GUILD) / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["action"] for line in lines]


async def test_a_page_is_not_fetched_before_it_is_due(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    await add_page(library, url, "weekly")
    assert await refresher(library).run_once(later(6)) == {}
    assert len(served.seen) == 1  # the first fetch only


async def test_a_304_leaves_the_document_and_moves_the_next_fetch(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url, "daily")
    now = later(1.5)
    assert await refresher(library).run_once(now) == {(GUILD, doc): "unchanged"}
    assert served.seen[-1]["If-None-Match"] == '"v1"'
    assert [e.doc_id for e in library.entries(GUILD)] == [doc]
    entry = library.pages.read(GUILD)[doc]
    assert entry["last_fetch"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert entry["next_fetch"] == (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert actions(library) == ["add"]


async def test_last_modified_is_sent_back_as_if_modified_since(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    served.etag, served.last_modified = None, "Tue, 01 Dec 2026 09:00:00 GMT"
    doc = await add_page(library, url)
    assert await refresher(library).run_once(later(8)) == {(GUILD, doc): "unchanged"}
    assert served.seen[-1]["If-Modified-Since"] == "Tue, 01 Dec 2026 09:00:00 GMT"
    assert "If-None-Match" not in served.seen[-1]


async def test_new_bytes_with_the_same_text_are_not_re_indexed(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url)
    served.body = V1.replace(b"<script></script>", b"<script>track(2)</script>")
    served.etag = '"v1b"'  # a new validator: the site says it changed, but its text did not
    assert await refresher(library).run_once(later(8)) == {(GUILD, doc): "unchanged"}
    assert [e.doc_id for e in library.entries(GUILD)] == [doc]
    assert library.pages.read(GUILD)[doc]["etag"] == '"v1b"'
    assert actions(library) == ["add"]


async def test_a_changed_page_is_re_indexed_and_audited(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url)
    served.body, served.etag = V2, '"v2"'
    assert await refresher(library).run_once(later(8)) == {(GUILD, doc): "changed"}
    (entry,) = library.entries(GUILD)
    assert entry.doc_id != doc and entry.title == "Tides" and entry.source_url == url
    answer = library.engine_for(GUILD).ask("How high does the spring tide at Porthmoor rise?")
    quoted = " ".join(q.text for q in answer.quotes + answer.more)
    assert "6.4 metres" in quoted and "6.2 metres" not in quoted
    assert list(library.pages.read(GUILD)) == [entry.doc_id]
    assert actions(library) == ["add", "refresh-replaced", "refresh"]


async def test_a_failing_page_is_flagged_after_three_failures_and_kept(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url)
    served.status = 503
    bot = refresher(library)
    for days in (8, 9, 10):  # each retry is due within hours
        assert await bot.run_once(later(days)) == {(GUILD, doc): "failed"}
    entry = library.pages.read(GUILD)[doc]
    assert entry["failures"] == 3 and "HTTP 503" in entry["error"]
    assert [e.doc_id for e in library.entries(GUILD)] == [doc]
    (embed,) = library_embeds(library.entries(GUILD), {doc: 2}, 0, library.pages.read(GUILD))
    listed = embed.fields[0].value or ""
    assert "⚠️ the last 3 fetches failed (the site answered with HTTP 503)" in listed
    assert "fetched " in listed and "next " in listed and "(weekly)" in listed
    served.status = 200
    assert await bot.run_once(later(11)) == {(GUILD, doc): "unchanged"}
    assert library.pages.read(GUILD)[doc]["failures"] == 0


async def test_a_page_gone_three_times_in_a_row_is_removed_and_audited(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url)
    served.status = 404
    bot = refresher(library)
    assert await bot.run_once(later(8)) == {(GUILD, doc): "gone"}
    served.status = 410
    assert await bot.run_once(later(9)) == {(GUILD, doc): "gone"}
    assert [e.doc_id for e in library.entries(GUILD)] == [doc]  # twice is not yet gone
    assert await bot.run_once(later(10)) == {(GUILD, doc): "removed"}
    assert library.entries(GUILD) == [] and library.pages.read(GUILD) == {}
    assert actions(library) == ["add", "gone"]


async def test_a_redirect_to_a_private_address_is_refused_on_the_next_fetch(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url)
    served.redirect = "http://internal.test/admin"
    assert await refresher(library).run_once(later(8)) == {(GUILD, doc): "failed"}
    assert "private or internal" in library.pages.read(GUILD)[doc]["error"]


async def test_two_processes_fetch_a_due_page_once(
    library: Library, site: tuple[Site, str]
) -> None:
    served, url = site
    doc = await add_page(library, url)
    now = later(8)
    first, second = await asyncio.gather(
        refresher(library).run_once(now), refresher(library).run_once(now)
    )
    assert {**first, **second} == {(GUILD, doc): "unchanged"} and len(served.seen) == 2
