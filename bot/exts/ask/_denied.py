"""Say once per channel per hour that Discord refused an answer there, and for lack of what."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import discord

log = logging.getLogger(__name__)

REPORT_EVERY_SECONDS = 3600.0
# What answering a mention takes: seeing the channel, replying to a message, sending embeds.
NEEDED = ("view_channel", "send_messages", "read_message_history", "embed_links")


class DeniedChannels:
    """Remember where Discord refused an answer, so that each channel is reported hourly."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reported: dict[int, float] = {}

    def report(self, message: discord.Message, error: discord.Forbidden) -> bool:
        """Log one line naming the server, the channel and what is missing; False if muted."""
        now = self._clock()
        channel_id = message.channel.id
        last = self._reported.get(channel_id)
        if last is not None and now - last < REPORT_EVERY_SECONDS:
            return False
        self._reported[channel_id] = now
        log.warning(
            "Cannot answer in %s: %s (reported once an hour per channel)",
            where(message),
            missing(message, error),
        )
        return True


def where(message: discord.Message) -> str:
    """Name the server and the channel of a message, with their ids."""
    channel = message.channel
    name = getattr(channel, "name", None)
    channel_text = f"#{name} ({channel.id})" if name else f"channel {channel.id}"
    if message.guild is None:
        return f"a direct message ({channel_text})"
    return f'server "{message.guild.name}" ({message.guild.id}), {channel_text}'


def missing(message: discord.Message, error: discord.Forbidden) -> str:
    """Name the permission the bot lacks there, or else quote Discord's reason."""
    channel = message.channel
    guild = message.guild
    said = f"Discord said {error.text or 'Forbidden'!r} (code {error.code})"
    if guild is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return said
    granted = channel.permissions_for(guild.me)
    needed = list(NEEDED)
    if isinstance(channel, discord.Thread):
        needed[needed.index("send_messages")] = "send_messages_in_threads"
    # The first one lacking is the cause: without Send Messages, Discord denies Embed Links too.
    lacking = next((name for name in needed if not getattr(granted, name)), None)
    if lacking is None:
        return said
    return f"missing permission {_title(lacking)}; grant it to the bot's role there"


def _title(permission: str) -> str:
    """Spell a permission as Discord's settings do: send_messages is "Send Messages"."""
    return permission.replace("_", " ").title()
