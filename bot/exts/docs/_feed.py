"""Keep channel documents up to date: posts added, edits applied, deletions removed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import discord
from discord.ext import commands

from bot.client import VerbatimBot
from bot.exts.docs._channel_store import Listener, poll_job, save_channel
from bot.exts.docs._channels import ChannelRegistry, plain_message
from index import (
    Added,
    ChannelMessage,
    Deleted,
    Edited,
    IngestError,
    Job,
    Posted,
    apply_changes,
    read_channel_payload,
)

log = logging.getLogger(__name__)
Change = Posted | Edited | Deleted
SYNCED_BY = "Verbatim (channel updates)"
Lock = Callable[[int], AbstractAsyncContextManager[None]]


class ChannelFeed(commands.Cog):
    """Apply a server's message events to its channel documents, a few seconds' worth at once."""

    # A burst of messages (a conversation, a purge) waits this long and is indexed once.
    batch_seconds = 5.0

    def __init__(self, bot: VerbatimBot, registry: ChannelRegistry, lock: Lock) -> None:
        self.bot = bot
        self.registry = registry
        self.lock = lock
        self._pending: dict[int, dict[str, list[Change]]] = {}
        self._flushes: dict[int, asyncio.Task[None]] = {}
        # Set after each batch is applied: tests (and shutdown) wait on it, never on the clock.
        self.applied = asyncio.Condition()
        self.batches = 0

    async def _source(self, guild_id: int | None, channel_id: int) -> str | None:
        """Return the listed channel a message in `channel_id` belongs to (a forum's post too)."""
        if guild_id is None:
            return None
        listed = await self.registry.listed(guild_id)
        if not listed:
            return None
        if str(channel_id) in listed:
            return str(channel_id)
        guild = self.bot.get_guild(guild_id)
        thread = guild.get_thread(channel_id) if guild is not None else None
        parent = str(thread.parent_id) if thread is not None else None
        return parent if parent in listed and listed[parent].get("kind") == "forum" else None

    def _queue(self, guild_id: int, source: str, change: Change) -> None:
        """Hold a change for the server's next batch, starting its timer if none runs."""
        self._pending.setdefault(guild_id, {}).setdefault(source, []).append(change)
        if guild_id not in self._flushes:
            self._flushes[guild_id] = asyncio.create_task(self._flush_later(guild_id))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Add a new message in a listed channel."""
        own = self.bot.user
        if message.guild is None or (own is not None and message.author.id == own.id):
            return
        source = await self._source(message.guild.id, message.channel.id)
        if source is not None:
            self._queue(message.guild.id, source, Posted(plain_message(message)))

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Replace an edited message's text (uncached messages too: the event carries it)."""
        content = payload.data.get("content")
        if content is None:  # an embed appearing, say: the text is as it was
            return
        source = await self._source(payload.guild_id, payload.channel_id)
        if source is not None and payload.guild_id is not None:
            self._queue(payload.guild_id, source, Edited(payload.message_id, str(content)))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """Remove a deleted message from its document."""
        source = await self._source(payload.guild_id, payload.channel_id)
        if source is not None and payload.guild_id is not None:
            self._queue(payload.guild_id, source, Deleted(frozenset({payload.message_id})))

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Remove messages deleted together (a purge) from their document."""
        source = await self._source(payload.guild_id, payload.channel_id)
        if source is not None and payload.guild_id is not None:
            self._queue(payload.guild_id, source, Deleted(frozenset(payload.message_ids)))

    async def _flush_later(self, guild_id: int) -> None:
        """Wait for the burst to pass, then apply everything it brought."""
        try:
            await asyncio.sleep(self.batch_seconds)
            # Taken before applying: events from now on start the next batch.
            self._flushes.pop(guild_id, None)
            pending = self._pending.pop(guild_id, {})
            async with self.lock(guild_id):
                for source, changes in pending.items():
                    await self._apply(guild_id, source, changes)
        except Exception:
            log.exception("Could not update the channel documents of server %s", guild_id)
        finally:
            async with self.applied:
                self.batches += 1
                self.applied.notify_all()

    async def _apply(self, guild_id: int, source: str, changes: list[Change]) -> None:
        """Rebuild one channel's document with its changes, and re-index it once."""
        listed = (await self.registry.listed(guild_id)).get(source)
        if listed is None:
            return
        doc_id: str | None = listed.get("doc_id")
        messages: list[ChannelMessage] = []
        if doc_id is not None:
            try:
                _, data = await asyncio.to_thread(self.bot.library.payload, guild_id, doc_id)
            except IngestError:
                # Removed with /docs remove: the channel is no longer a document.
                await self.registry.drop(guild_id, source)
                return
            messages = list(read_channel_payload(data).messages)
        changed = apply_changes(
            messages, changes, limit=self.bot.docs_settings.channel_max_messages
        )
        if changed == messages:
            return
        saved = await save_channel(
            self.bot,
            guild_id,
            doc_id,
            str(listed.get("title") or "channel"),
            str(listed["source_url"]),
            changed,
            by=SYNCED_BY,
            run=self._run,
            wait=self._wait,
        )
        if saved.doc_id != doc_id:
            await self.registry.put(guild_id, int(source), {**listed, "doc_id": saved.doc_id})

    async def _run(self, work: Callable[[Listener | None], Added]) -> Added:
        added: Added = await self.bot.run_engine(work, None)
        return added

    async def _wait(self, job_id: int) -> Job | None:
        assert self.bot.jobs is not None
        return await poll_job(self.bot.jobs, job_id)

    async def wait_applied(self, batches: int, timeout: float) -> None:
        """Wait until `batches` batches in all have been applied."""

        async def reached() -> None:
            async with self.applied:
                while self.batches < batches:
                    await self.applied.wait()

        await asyncio.wait_for(reached(), timeout)

    async def cog_unload(self) -> None:
        """Stop waiting batches: what they held is read again by nobody, so say so."""
        for task in self._flushes.values():
            task.cancel()
        if self._pending:
            log.warning("Dropped the unapplied channel changes of %d server(s)", len(self._pending))
