"""The command tree: built from the extensions, and synced with Discord by one process only."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

log = logging.getLogger("bot.client")

# Loaded in this order at start-up; the error handler first, so it covers every command.
EXTENSIONS = (
    "bot.exts.errors",
    "bot.exts.ask",
    "bot.exts.autoanswer",
    "bot.exts.summary",
    "bot.exts.info",
    "bot.exts.docs",
    "bot.exts.relations",
)


async def load_commands(bot: commands.Bot) -> None:
    """Load every extension, which adds its commands to the bot's tree."""
    # The one way the tree is built: a serving bot and `verbatim sync` get the same commands.
    for extension in EXTENSIONS:
        await bot.load_extension(extension)


async def sync_commands(bot: commands.Bot, dev_guild_id: int | None) -> int:
    """Send the tree to Discord, to one server (instant) or globally; return the count."""
    if dev_guild_id:
        guild = discord.Object(id=dev_guild_id)
        bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        log.info("Synced %d commands to guild %s", len(synced), dev_guild_id)
    else:
        synced = await bot.tree.sync()
        log.info("Synced %d commands globally (may take up to an hour to appear)", len(synced))
    return len(synced)
