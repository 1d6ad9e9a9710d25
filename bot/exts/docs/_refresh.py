"""Fetch pages added by link again when due, and bring their documents up to date."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from bot.client import VerbatimBot
from bot.exts.docs._adding import filename_of
from bot.exts.docs._fetch import Fetcher, FetchError
from index import (
    IngestError,
    LibraryEntry,
    Prepared,
    Refetch,
    new_claim_token,
    page_gone,
    prepare,
    put_refresh,
    put_remove,
    refetch_failed,
    refetch_judged,
)

log = logging.getLogger(__name__)
Changing = Callable[[int], AbstractAsyncContextManager[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class Refresher:
    """Claim the due pages of every server, fetch each, and record or apply what it found."""

    def __init__(
        self,
        bot: VerbatimBot,
        *,
        fetcher: Callable[[], Fetcher],
        changing: Changing,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        # `fetcher` is asked at each fetch, so that the cog's fetcher (which tests swap) is used;
        # `changing` waits for the server's previous change and a free engine thread.
        self.bot = bot
        self.fetcher = fetcher
        self.changing = changing
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self, every_seconds: float) -> None:
        """Look for due pages every `every_seconds`, in the background, until `stop`."""
        if every_seconds > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve(every_seconds))

    async def stop(self) -> None:
        """Stop looking; a fetch in hand is dropped, and its claim lapses for another pass."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _serve(self, every_seconds: float) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.run_once()
            except Exception as error:
                # A database that is down: the pages stay due and the next pass tries again.
                log.warning("Could not look for pages to fetch again (%s)", error)

    async def run_once(self, now: datetime | None = None) -> dict[tuple[int, str], str]:
        """Fetch every page due at `now`; return what happened to each, by (server, document)."""
        now = now or self.clock()
        token = new_claim_token()  # one pass's claims: another process's are left alone
        pages = self.bot.library.pages
        happened: dict[tuple[int, str], str] = {}
        for guild_id in await asyncio.to_thread(pages.servers):
            claimed = await asyncio.to_thread(pages.claim, guild_id, now, token)
            for doc_id, entry in claimed.items():
                try:
                    happened[guild_id, doc_id] = await self._refresh(
                        guild_id, doc_id, entry, now, token
                    )
                except Exception:
                    # Its claim lapses and it is due again then; the other pages go on.
                    log.exception("Could not fetch %s of guild %s again", doc_id, guild_id)
                    happened[guild_id, doc_id] = "error"
        return happened

    async def _refresh(
        self, guild_id: int, doc_id: str, entry: dict[str, Any], now: datetime, token: str
    ) -> str:
        """Fetch one claimed page and do what its result asks; return the outcome's name."""
        library = self.bot.library
        entries = await asyncio.to_thread(library.entries, guild_id)
        current = next((e for e in entries if e.doc_id == doc_id), None)
        if current is None:  # removed in a way that left its schedule: nothing to fetch
            await asyncio.to_thread(library.pages.forget, guild_id, doc_id)
            return "forgotten"
        # Fetched on the event loop: no engine thread or lock is held while a site is slow.
        result, prepared, final_url = await self._fetch(entry, current)
        if result.outcome == "changed" and prepared is not None:
            return await self._replace(guild_id, doc_id, prepared, result, token, final_url, now)
        after = await asyncio.to_thread(
            library.pages.settle, guild_id, doc_id, result, now, token=token
        )
        if after is not None and page_gone(after):
            await self._remove(guild_id, current, after)
            return "removed"
        if result.outcome != "unchanged":
            log.info("Fetching %s again failed: %s", entry.get("url"), result.error)
        return result.outcome

    async def _fetch(
        self, entry: dict[str, Any], current: LibraryEntry
    ) -> tuple[Refetch, Prepared | None, str | None]:
        """Fetch a page conditionally and read it; return the result, the document and its URL."""
        try:
            fetched = await self.fetcher().fetch(
                str(entry["url"]), etag=entry.get("etag"), last_modified=entry.get("last_modified")
            )
        except FetchError as error:
            return refetch_failed(str(error), error.status), None, None
        if fetched.not_modified:
            return Refetch("unchanged", fetched.etag, fetched.last_modified), None, fetched.url
        try:
            prepared: Prepared = await self.bot.run_engine(
                prepare, fetched.data, filename=filename_of(fetched.url), title=current.title
            )
        except IngestError as error:
            return Refetch("failed", error=str(error)), None, fetched.url
        outcome = refetch_judged(entry, not_modified=False, sha256_text=prepared.text_sha256)
        result = Refetch(outcome, fetched.etag, fetched.last_modified, prepared.text_sha256)
        return result, prepared, fetched.url

    async def _replace(
        self,
        guild_id: int,
        doc_id: str,
        prepared: Prepared,
        result: Refetch,
        token: str,
        url: str | None,
        now: datetime,
    ) -> str:
        """Replace the document with the page's new text: as a job with a database, else here."""
        library, queue = self.bot.library, self.bot.jobs
        if queue is not None:
            await asyncio.to_thread(
                put_refresh, queue, guild_id, doc_id, prepared, result, token=token, source_url=url
            )
            return "changed"
        try:
            async with self.changing(guild_id):
                await self.bot.run_engine(
                    lambda: library.refresh(
                        guild_id, doc_id, prepared, result, token=token, source_url=url, now=now
                    )
                )
        except Exception as error:
            # The library recorded the failure in the schedule; the old text is still served.
            log.warning("Could not re-index the changed page %s: %s", url, error)
            return "failed"
        return "changed"

    async def _remove(self, guild_id: int, entry: LibraryEntry, page: dict[str, Any]) -> None:
        """Remove a document whose page is gone (404 or 410 several times in a row)."""
        by = f"refresh (the page answered “{page.get('error')}” {page.get('gone')} times in a row)"
        library, queue = self.bot.library, self.bot.jobs
        if queue is not None:
            await asyncio.to_thread(
                put_remove,
                queue,
                guild_id,
                entry.doc_id,
                title=entry.title,
                removed_by=by,
                action="gone",
            )
            return
        async with self.changing(guild_id):
            await self.bot.run_engine(
                lambda: library.remove(guild_id, entry.doc_id, removed_by=by, action="gone")
            )
