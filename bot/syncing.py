"""`python -m bot sync`: log in over REST, send the command tree to Discord, and exit."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, cast

import aiohttp
import discord
from discord.ext import commands

from bot.client import VerbatimBot
from bot.runner import REFUSED_TOKEN, point_at_discord
from bot.settings import DiscordSettings, DocsSettings
from bot.tree import load_commands, sync_commands
from index import Engine, EngineSettings, load_settings

log = logging.getLogger("bot")

NO_TOKEN = "error: DISCORD_TOKEN is not set: `sync` logs in as the bot to send it its commands"


class _NoEngine:
    """Stands in for the engine where commands are only registered, never run."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"`verbatim sync` has no engine: Engine.{name} is not available")


class CommandSync(VerbatimBot):
    """The serving bot's command tree, which logs in over REST only to sync that tree."""

    def __init__(
        self, settings: DiscordSettings, engine: EngineSettings, docs: DocsSettings
    ) -> None:
        # Syncing needs the commands, not the corpus: no index is opened, no model loaded.
        super().__init__(cast(Engine, _NoEngine(engine)), settings, docs=docs)
        self.synced = 0

    async def setup_hook(self) -> None:
        """Build the tree as a serving bot does and sync it, whatever shards are set."""
        await load_commands(self)
        self.synced = await sync_commands(self, self.settings.dev_guild_id)

    async def close(self) -> None:
        """Log out and stop the threads; the health file is the serving bot's, left alone."""
        await commands.Bot.close(self)
        self._executor.shutdown(wait=False, cancel_futures=True)


async def _sync(bot: CommandSync, token: str) -> None:
    """Log in (which syncs, in the setup hook) and log out."""
    async with bot:
        await bot.login(token)


def sync() -> int:
    """Sync the commands with Discord and exit; return the exit status."""
    settings = load_settings(DiscordSettings)
    engine = load_settings(EngineSettings)
    docs = load_settings(DocsSettings)
    if settings.token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    point_at_discord(settings)
    bot = CommandSync(settings, engine, docs)
    try:
        asyncio.run(_sync(bot, settings.token.get_secret_value().strip()))
    except discord.LoginFailure:
        log.error(REFUSED_TOKEN)
        return 2
    except discord.HTTPException as error:
        log.error("Discord refused the commands (%s %s)", error.status, error.text or "")
        return 1
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        log.error("Cannot reach Discord to sync the commands: %s", error or type(error).__name__)
        return 1
    return 0
