"""/autoanswer on|off|list: the channels where the bot answers without being asked."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.autoanswer_channels import AutoAnswerChannels
from bot.client import VerbatimBot
from bot.exts.docs import is_admin, who
from bot.intents import MESSAGE_CONTENT_TO_TICK
from bot.ui import CONTENT_LIMIT, NO_PINGS, escape, shorten
from index import DatabaseUnavailable, StorageError

log = logging.getLogger(__name__)

AnsweredChannel = discord.TextChannel | discord.ForumChannel
NOT_ADMIN = "Only members with the **Manage Server** permission can change auto-answer channels."
NOT_A_CHANNEL = (
    "Auto-answer works in a text channel or a forum: name one with `channel:`, "
    "or run the command there."
)
CANNOT_SAVE = "I could not save this server's auto-answer channels ({error}); nothing changed."
CANNOT_READ = "I could not read the auto-answer channels ({error})."
T = TypeVar("T")
# What an unasked reply takes, in the channel (or, in a forum, in its posts).
_NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}
_NEEDED_IN_FORUMS = {**_NEEDED, "send_messages_in_threads": "Send Messages in Threads"}


class AnsweredChannelOption(app_commands.Transformer):
    """A channel option offering text channels, announcement channels and forums."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        # discord.py would add media channels to forums; the API spec has no such type yet.
        return [discord.ChannelType.text, discord.ChannelType.news, discord.ChannelType.forum]

    async def transform(self, interaction: discord.Interaction, value: Any) -> AnsweredChannel:
        """Return the server's channel that the option names."""
        found = interaction.guild.get_channel(value.id) if interaction.guild else None
        if not isinstance(found, discord.TextChannel | discord.ForumChannel):
            raise app_commands.AppCommandError(NOT_A_CHANNEL)
        return found


ChannelOption = app_commands.Transform[AnsweredChannel, AnsweredChannelOption]


def channel_of(
    interaction: discord.Interaction, named: AnsweredChannel | None
) -> AnsweredChannel | None:
    """Return the channel named, or the one the command ran in (a thread's: its parent)."""
    if named is not None:
        return named
    here = interaction.channel
    if isinstance(here, discord.Thread):
        here = here.parent
    return here if isinstance(here, discord.TextChannel | discord.ForumChannel) else None


def missing_permissions(channel: AnsweredChannel) -> list[str]:
    """Return what the bot lacks in the channel to reply there, by the names Discord shows."""
    permissions = channel.permissions_for(channel.guild.me)
    needed = _NEEDED_IN_FORUMS if isinstance(channel, discord.ForumChannel) else _NEEDED
    return [label for flag, label in needed.items() if not getattr(permissions, flag)]


def turned_on(channel: AnsweredChannel, threshold: float, per_minute: int) -> str:
    """Say what auto-answer now does in the channel."""
    where = "each new post" if isinstance(channel, discord.ForumChannel) else "each new question"
    return (
        f"Auto-answer is on in {channel.mention}: I reply to {where} with quotes from the "
        f"documents, but only when the verifier is at least {threshold:.0%} sure, and at most "
        f"{per_minute} times a minute. Otherwise I stay silent. `/autoanswer off` stops it."
    )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AutoAnswerCommands(commands.GroupCog, group_name="autoanswer"):
    """Answer questions in a channel without being mentioned."""

    def __init__(self, bot: VerbatimBot, channels: AutoAnswerChannels) -> None:
        self.bot = bot
        self.channels = channels
        super().__init__()

    async def _admin(self, interaction: discord.Interaction) -> bool:
        """Return whether an admin asked, in a server; else say why not, privately."""
        if interaction.guild_id is not None and is_admin(interaction):
            return True
        await interaction.response.send_message(
            NOT_ADMIN, ephemeral=True, allowed_mentions=NO_PINGS
        )
        return False

    async def _admin_channel(
        self, interaction: discord.Interaction, named: AnsweredChannel | None
    ) -> AnsweredChannel | None:
        """Return the channel to change if an admin asked in a server; else say why not."""
        if not await self._admin(interaction):
            return None
        channel = channel_of(interaction, named)
        if channel is None:
            await interaction.response.send_message(
                NOT_A_CHANNEL, ephemeral=True, allowed_mentions=NO_PINGS
            )
        return channel

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _stored(
        self, interaction: discord.Interaction, failure: str, work: Callable[[], T]
    ) -> T | None:
        """Run a read or change of the stored channels off the loop; on failure, say `failure`."""
        try:
            return await asyncio.to_thread(work)
        except (StorageError, DatabaseUnavailable) as error:
            await self._say(interaction, failure.format(error=error))
            return None

    @app_commands.command(name="on")
    @app_commands.describe(channel="The text channel or forum (default: this one)")
    async def on(
        self, interaction: discord.Interaction, channel: ChannelOption | None = None
    ) -> None:
        """Answer questions in a channel without being mentioned, when the answer is sure."""
        target = await self._admin_channel(interaction, channel)
        if target is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if not await self.bot.message_text_granted():
            await self._say(interaction, MESSAGE_CONTENT_TO_TICK)
            return
        guild_id, by = target.guild.id, who(interaction.user)
        turn_on = functools.partial(self.channels.turn_on, guild_id, target.id, by=by)
        if await self._stored(interaction, CANNOT_SAVE, turn_on) is None:
            return
        settings = self.bot.autoanswer_settings
        text = turned_on(target, settings.threshold, settings.per_minute)
        if missing := missing_permissions(target):
            text += f"\n⚠️ I cannot reply there yet: give me {', '.join(missing)} in that channel."
        await self._say(interaction, text)
        # After the reply: starting new sessions briefly takes the gateway down.
        await self.bot.read_message_text()

    @app_commands.command(name="off")
    @app_commands.describe(channel="The text channel or forum (default: this one)")
    async def off(
        self, interaction: discord.Interaction, channel: ChannelOption | None = None
    ) -> None:
        """Stop answering unasked in a channel."""
        target = await self._admin_channel(interaction, channel)
        if target is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        turn_off = functools.partial(self.channels.turn_off, target.guild.id, target.id)
        was_on = await self._stored(interaction, CANNOT_SAVE, turn_off)
        if was_on is None:
            return
        state = "is now off" if was_on else "was not on"
        await self._say(interaction, f"Auto-answer {state} in {target.mention}.")

    @app_commands.command(name="list")
    async def list_channels(self, interaction: discord.Interaction) -> None:
        """List the channels where the bot answers unasked."""
        if not await self._admin(interaction) or interaction.guild_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        read = functools.partial(self.channels.listed, interaction.guild_id)
        listed = await self._stored(interaction, CANNOT_READ, read)
        if listed is None:
            return
        await self._say(interaction, listing(listed, self.bot.autoanswer_settings.threshold))


def listing(listed: dict[int, dict[str, str]], threshold: float) -> str:
    """Say where auto-answer is on, since when and by whom."""
    if not listed:
        return "Auto-answer is off in every channel. `/autoanswer on` turns it on in one."
    lines = [
        f"• <#{channel}>: on since {escape(str(info.get('at', '?'))[:10])}, "
        f"by {escape(str(info.get('by', '?')))}"
        for channel, info in sorted(listed.items())
    ]
    head = f"Auto-answer is on here (replies only when the verifier is {threshold:.0%} sure):"
    return shorten("\n".join([head, *lines]), CONTENT_LIMIT)
