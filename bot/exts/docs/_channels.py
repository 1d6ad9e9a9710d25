"""Channels as documents: who may add one, reading one back, and where the list is kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import discord
from discord import app_commands
from discord.app_commands.transformers import UnionChannelTransformer

from bot.exts.docs._progress import PROGRESS_EVERY
from bot.server_setting import Change, ServerSetting
from bot.ui import escape, shorten
from index import ChannelMessage, ServerStates

# The key of a server's channel documents in its settings; the bot asks Discord for message
# text (the Message Content intent) when any server lists one under it.
KEY = "channels"
SourceChannel = discord.TextChannel | discord.ForumChannel | discord.Thread


class SourceTransformer(UnionChannelTransformer[discord.Client]):
    """Offer text channels, forums and threads, as Discord's API lists channel types."""

    def __init__(self) -> None:
        super().__init__(discord.TextChannel, discord.ForumChannel, discord.Thread)

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        # discord.py adds media channels (16) to forums, a type the API's schema does not list.
        return [t for t in super().channel_types if t is not discord.ChannelType.media]


SourceOption = app_commands.Transform[SourceChannel, SourceTransformer]
INTENT_HELP = (
    "Discord sent {blank} message(s) without their text: the bot lacks the **Message Content** "
    "intent. Turn it on in the Developer Portal → your application → **Bot** → *Privileged "
    "Gateway Intents* → **Message Content Intent**, save, then add the channel again."
)
# Messages whose text is what they say: joins, pins and the like have none worth quoting.
SPOKEN = (discord.MessageType.default, discord.MessageType.reply)


def parse_since(text: str | None) -> datetime | None:
    """Read `since` as a day (YYYY-MM-DD), from its first moment in UTC; raise ValueError."""
    if text is None or not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"`since` must be a date like 2026-01-31 (year-month-day), not "
            f"'{escape(shorten(text, 40))}'"
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def channel_refusal(interaction: discord.Interaction, channel: SourceChannel) -> str | None:
    """Say why this member may not make this channel a document, or None when they may."""
    user, guild = interaction.user, interaction.guild
    if not isinstance(user, discord.Member) or guild is None:
        return "I can't check who may read that channel here: try again in a moment."
    mine = channel.permissions_for(user)
    if not (mine.read_messages and mine.read_message_history):
        # Added, it would let anyone who asks quote a channel they cannot read.
        return f"You can't read the history of {channel.mention}, so I won't make it a document."
    bots = channel.permissions_for(guild.me)
    if not (bots.read_messages and bots.read_message_history):
        return (
            f"I can't read {channel.mention}: give me **View Channel** and **Read Message "
            "History** there, then try again."
        )
    return None


def plain_message(message: discord.Message) -> ChannelMessage:
    """Turn a message into plain data: its place, author, date and text (never attachments)."""
    return ChannelMessage(
        message.channel.id,
        message.id,
        message.author.display_name,
        message.created_at.isoformat(),
        message.content,
    )


def is_blank(message: discord.Message) -> bool:
    """Say whether a message came without the text it must have: the intent is missing."""
    return (
        not message.content
        and message.type in SPOKEN
        and not (message.attachments or message.embeds or message.stickers or message.poll)
    )


@dataclass(frozen=True)
class Backfill:
    """What reading a channel back found."""

    messages: list[ChannelMessage]
    blank: int  # messages that came without their text
    capped: bool  # stopped at VERBATIM_CHANNEL_MAX_MESSAGES


async def _threads(forum: discord.ForumChannel) -> list[discord.Thread]:
    """Return a forum's posts: the open ones, then those archived (as far as the bot may see)."""
    threads = list(forum.threads)
    with contextlib.suppress(discord.HTTPException):
        threads += [thread async for thread in forum.archived_threads(limit=None)]
    return sorted({thread.id: thread for thread in threads}.values(), key=lambda t: t.id)


async def backfill(
    channel: SourceChannel,
    since: datetime | None,
    limit: int,
    own_id: int,
    tell: Callable[[str], Awaitable[None]],
) -> Backfill:
    """Read a channel's newest `limit` messages from `since`, oldest first, telling the count."""
    # The newest are kept, as the live feed keeps them: reading from the oldest would leave a
    # hole between the cap and the messages the feed adds later. discord.py pages the history
    # 100 at a time, newest first, stops at `since`, and waits out 429s itself.
    sources = await _threads(channel) if isinstance(channel, discord.ForumChannel) else [channel]
    runs: list[list[ChannelMessage]] = []
    blank = read = 0
    told = time.monotonic()
    for source in reversed(sources):  # a forum's newest posts first
        run: list[ChannelMessage] = []
        async for message in source.history(limit=limit - read, after=since, oldest_first=False):
            read += 1
            if message.author.id == own_id:
                continue  # its own answers would be quoted back at the server
            if is_blank(message):
                blank += 1
            run.append(plain_message(message))
            if time.monotonic() - told >= PROGRESS_EVERY:
                told = time.monotonic()
                await tell(f"Reading {channel.mention}: {read:,} messages so far…")
        runs.append(run[::-1])
        if read >= limit:
            break
    messages = [message for run in reversed(runs) for message in run]
    return Backfill(messages, blank, read >= limit)


class ChannelRegistry:
    """The channels each server made documents, in its settings under "channels"."""

    def __init__(self, states: ServerStates) -> None:
        # Read on every message in every channel: cached, so that a message costs no read.
        self.setting = ServerSetting(states, KEY)
        self._lock = asyncio.Lock()

    async def listed(self, guild_id: int) -> dict[str, Any]:
        """Return the server's channel documents by channel id."""
        found = self.setting.cached(guild_id)
        if found is None:
            found = await asyncio.to_thread(self.setting.read, guild_id)
        return found

    async def put(self, guild_id: int, channel_id: int, value: dict[str, Any]) -> None:
        """Record or update one channel document."""

        def change(held: dict[str, Any]) -> dict[str, Any]:
            return {**held, str(channel_id): value}

        await self._update(guild_id, change)

    async def drop(self, guild_id: int, channel_id: int | str) -> None:
        """Forget a channel document."""

        def change(held: dict[str, Any]) -> dict[str, Any]:
            return {key: item for key, item in held.items() if key != str(channel_id)}

        await self._update(guild_id, change)

    async def _update(self, guild_id: int, change: Change) -> None:
        async with self._lock:
            await asyncio.to_thread(self.setting.update, guild_id, change)
