"""/docs add channel: make one of the server's channels a document, read back from its history."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import discord

from bot.client import VerbatimBot
from bot.exts.docs._adding import added_text, not_added
from bot.exts.docs._channel_store import Listener, Saved, save_channel
from bot.exts.docs._channels import (
    INTENT_HELP,
    Backfill,
    ChannelRegistry,
    SourceChannel,
    backfill,
    channel_refusal,
    parse_since,
)
from bot.exts.docs._jobs import JobReply
from bot.exts.docs._members import NOT_ADMIN, is_admin, who
from bot.intents import MESSAGE_CONTENT_TO_TICK
from bot.ui import NO_PINGS, escape
from index import Added, IngestError, Job, channel_url

Lock = Callable[[int], AbstractAsyncContextManager[None]]
# Runs a change in the engine's threads while the reply shows its progress.
WithProgress = Callable[[discord.Interaction, Callable[[Listener], Added]], Awaitable[Added]]
Say = Callable[[discord.Interaction, str], Awaitable[None]]
KEPT_UP = "I'll keep it up to date as messages are posted, edited and deleted."


def _kind(channel: SourceChannel) -> str:
    if isinstance(channel, discord.ForumChannel):
        return "forum"
    return "thread" if isinstance(channel, discord.Thread) else "text"


class ChannelAdder:
    """The channel half of /docs add, sharing the cog's per-server lock and progress."""

    def __init__(self, bot: VerbatimBot, lock: Lock, with_progress: WithProgress, say: Say) -> None:
        self.bot = bot
        self.lock = lock
        self.with_progress = with_progress
        self.say = say
        self.registry = ChannelRegistry(bot.states)

    async def _refusal(
        self,
        interaction: discord.Interaction,
        channel: SourceChannel | None,
        other: object,
    ) -> str | None:
        """Say why this request cannot go ahead, or None when it can."""
        if interaction.guild_id is None:
            return "Documents belong to a server: use this command in one."
        if not is_admin(interaction):
            return NOT_ADMIN
        if channel is None:
            return "`since` goes with a `channel`: give the channel to read from that day on."
        if other:
            return "Give one of `file`, `url` or `channel`, not several."
        refused = channel_refusal(interaction, channel)
        if refused:
            return refused
        listed = await self.registry.listed(interaction.guild_id)
        known = listed.get(str(channel.id))
        if known is not None:
            return (
                f"{channel.mention} is already a document (`{escape(str(known.get('doc_id')))}`); "
                "remove it with `/docs remove` to read it again."
            )
        return None

    async def add(
        self,
        interaction: discord.Interaction,
        channel: SourceChannel | None,
        other: object,
        since_text: str | None,
        title: str | None,
    ) -> None:
        """Read the channel back from `since`, store it as a document, and follow its changes."""
        try:
            since = parse_since(since_text)
            refused = await self._refusal(interaction, channel, other)
        except ValueError as error:
            refused = str(error)
        if refused or channel is None or interaction.guild_id is None:
            await interaction.response.send_message(
                refused, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        guild_id = interaction.guild_id
        reply = JobReply(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if not await self.bot.message_text_granted():
            await self.say(interaction, MESSAGE_CONTENT_TO_TICK)
            return
        cap = self.bot.docs_settings.channel_max_messages
        own_id = self.bot.user.id if self.bot.user else 0
        try:
            found = await backfill(channel, since, cap, own_id, self._teller(interaction))
        except discord.HTTPException as error:
            await self.say(interaction, f"I couldn't read {channel.mention}: {error.text}.")
            return
        name = f"#{channel.name}"
        try:
            saved = await self._save(interaction, reply, guild_id, channel, title or name, found)
        except IngestError as error:
            await self.say(interaction, not_added(name, error))
            return
        if saved is None:
            empty = f"There are no messages with text to quote in {channel.mention}"
            detail = INTENT_HELP.format(blank=found.blank) if found.blank else f"{empty}."
            await self.say(interaction, f"{detail} Nothing was changed.")
            return
        await self.registry.put(
            guild_id,
            channel.id,
            {
                "doc_id": saved.doc_id,
                "since": since.date().isoformat() if since else None,
                "added_by": who(interaction.user),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "kind": _kind(channel),
                "title": title or name,
                "source_url": channel_url(guild_id, channel.id),
            },
        )
        # New messages, edits and deletions come as gateway events, with their text only
        # in sessions that ask for Message Content: start those if this process has none.
        await self.bot.read_message_text()
        lines = [
            added_text(title or name, str(saved.doc_id), saved.paragraphs, saved.sentences),
            KEPT_UP,
        ]
        if found.capped:
            lines.append(
                f"I kept only the newest {cap:,} messages (`VERBATIM_CHANNEL_MAX_MESSAGES`); "
                "older ones are not quoted."
            )
        if found.blank:
            lines.append(INTENT_HELP.format(blank=found.blank))
        await reply.tell("\n".join(lines))

    async def forget(self, guild_id: int, doc_id: str) -> None:
        """Stop following the channel whose document was removed, if it was one."""
        listed = await self.registry.listed(guild_id)
        for channel_id, entry in list(listed.items()):
            if entry.get("doc_id") == doc_id:
                await self.registry.drop(guild_id, channel_id)

    def _teller(self, interaction: discord.Interaction) -> Callable[[str], Awaitable[None]]:
        """Return how the backfill tells its progress: by editing the reply, best effort."""

        async def tell(text: str) -> None:
            with contextlib.suppress(discord.HTTPException):
                await self.say(interaction, text)

        return tell

    async def _save(
        self,
        interaction: discord.Interaction,
        reply: JobReply,
        guild_id: int,
        channel: SourceChannel,
        title: str,
        found: Backfill,
    ) -> Saved | None:
        """Store the messages read as a new document; None when none has text to quote."""
        source_url = channel_url(guild_id, channel.id)
        queue = self.bot.jobs

        async def run(work: Callable[[Listener | None], Added]) -> Added:
            await self.say(interaction, "Storing and indexing…")
            return await self.with_progress(interaction, work)

        async def wait(job_id: int) -> Job | None:
            assert queue is not None
            return await reply.follow(queue, job_id)

        # With a database the change is a job any process may run; else it takes the lock here.
        lock = self.lock(guild_id) if queue is None else contextlib.nullcontext()
        async with lock:
            saved = await save_channel(
                self.bot,
                guild_id,
                None,
                title,
                source_url,
                found.messages,
                by=who(interaction.user),
                run=run,
                wait=wait,
            )
        return saved if saved.doc_id is not None else None
