"""`python -m bot run`: connect to Discord, or explain how and fall back to the console."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
import time

import discord
import yarl

from bot.settings import DiscordSettings, DocsSettings
from index import ConfigError, Engine, EngineSettings, load_settings

log = logging.getLogger("bot")

NO_TOKEN = """No Discord token is set, so Verbatim can't connect to Discord.

To run it as a bot:
  1. Create an application at https://discord.com/developers/applications
  2. On its Bot page, reset the token and copy it.
  3. Put DISCORD_TOKEN=<the token> in .env (see .env.example) or the environment.
  4. Invite it with the OAuth2 URL generator: scopes "bot" and "applications.commands",
     permissions "Send Messages", "Embed Links" and "Read Message History".

Meanwhile, the same engine answers here: python -m bot chat
"""


async def serve(bot: discord.Client, token: str) -> None:
    """Run the bot until it is closed, closing it cleanly on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Signal handlers need the main thread on Unix; elsewhere Ctrl-C still stops the bot.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, functools.partial(_shutdown, bot, signum))
    async with bot:
        await bot.start(token)


def _shutdown(bot: discord.Client, signum: int) -> None:
    log.info("Received %s, closing the connection", signal.Signals(signum).name)
    asyncio.get_running_loop().create_task(bot.close())


def healthy(max_age: float = 60.0) -> bool:
    """Return whether the bot touched its health file within `max_age` seconds."""
    settings = load_settings(DiscordSettings)
    try:
        return time.time() - settings.health_file.stat().st_mtime < max_age
    except OSError:
        return False


def run() -> int:
    """Start the bot; without a token, explain how to get one and open the console."""
    try:
        discord_settings = load_settings(DiscordSettings)
        engine_settings = load_settings(EngineSettings)
        docs_settings = load_settings(DocsSettings)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if discord_settings.token is None:
        print(NO_TOKEN, file=sys.stderr)
        if not sys.stdin.isatty():
            return 2
        from bot.console import chat

        chat(Engine.open(engine_settings, show_progress=True))
        return 0
    discord.utils.setup_logging(level=logging.INFO)
    if discord_settings.api_base:  # e.g. a shared rate-limit proxy in front of Discord
        discord.http.Route.BASE = discord_settings.api_base.rstrip("/")
    if discord_settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(discord_settings.gateway_url)
    engine = Engine.open(engine_settings, show_progress=True)
    from bot.client import VerbatimBot

    bot = VerbatimBot(engine, discord_settings, docs=docs_settings)
    try:
        asyncio.run(serve(bot, discord_settings.token.get_secret_value().strip()))
    except discord.LoginFailure:
        log.error("Discord refused the token: check DISCORD_TOKEN (it may have been reset).")
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error("The bot asked for an intent that is not enabled in the Developer Portal.")
        return 2
    return 0
