"""`python -m bot run`: connect to Discord, or explain how and fall back to the console."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import discord
import yarl

from bot.settings import AutoAnswerSettings, DiscordSettings, DocsSettings, JobsSettings
from index import ConfigError, Engine, EngineSettings, load_settings

if TYPE_CHECKING:
    from bot.client import VerbatimBot

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


FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 300.0
HEALTH_MAX_AGE = 60.0

REFUSED_TOKEN = "Discord refused the token: check DISCORD_TOKEN (it may have been reset)."
# The gateway close codes that end a session for good, each with its cause and its fix.
FATAL_CLOSE_CODES = {
    4004: "authentication failed: Discord refused the token. Check DISCORD_TOKEN; if the "
    "token was reset in the Developer Portal, set DISCORD_TOKEN to the new one.",
    4010: "invalid shard: the gateway refused the shard sent at IDENTIFY. Check "
    "DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS, and that DISCORD_GATEWAY_URL, if set, points "
    "at Discord.",
    4011: "sharding required: the bot is in more servers than one connection may serve "
    "(2,500). Set DISCORD_SHARD_COUNT (see docs/scaling.md), or raise it if it is set.",
    4012: "invalid API version: this discord.py speaks a gateway version Discord no longer "
    "accepts. Upgrade discord.py, and check DISCORD_GATEWAY_URL if it is set.",
    4013: "invalid intents: the gateway refused the intents sent at IDENTIFY. Upgrade "
    "discord.py, and check DISCORD_GATEWAY_URL if it is set.",
    4014: "disallowed intents: the bot asked for the privileged Message Content intent "
    "(a channel has auto-answer on or is a document, or VERBATIM_MESSAGE_CONTENT=true), which the "
    "application is not granted. Tick Message Content Intent on the application's Bot page "
    "in the Developer Portal.",
}


class DiscordUnreachable(Exception):
    """Discord's API could not be reached in the attempts allowed."""


async def wait_for_discord(
    base: str,
    *,
    stop: Callable[[], bool] = lambda: False,
    first_delay: float = FIRST_RETRY_SECONDS,
    max_delay: float = MAX_RETRY_SECONDS,
    attempts: int | None = None,
) -> bool:
    """Wait until Discord's API answers at all, retrying with back-off; False if stopped."""
    delay = first_delay
    attempt = 0
    while not stop():
        attempt += 1
        try:
            timeout = aiohttp.ClientTimeout(total=15)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{base.rstrip('/')}/gateway"),
            ):
                return True  # any HTTP answer, even an error status, means the network is up
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            reason = _network_reason(error)
        if attempts is not None and attempt >= attempts:
            raise DiscordUnreachable(f"Cannot reach Discord at {base}: {reason}")
        log.warning("Cannot reach Discord at %s (%s); retrying in %.0f s", base, reason, delay)
        await _sleep_unless(stop, delay)
        delay = min(delay * 2, max_delay)
    return False


def _network_reason(error: BaseException) -> str:
    """Say in a few words why Discord could not be reached."""
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


async def _sleep_unless(stop: Callable[[], bool], seconds: float) -> None:
    """Sleep, waking early (within half a second) once `stop()` is true."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not stop():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.5))


async def serve(bot: discord.Client, token: str) -> None:
    """Run the bot until it is closed, closing it cleanly on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Signal handlers need the main thread on Unix; elsewhere Ctrl-C still stops the bot.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, functools.partial(_shutdown, bot, signum))
    async with bot:
        # Without a network at start, wait and retry rather than crash (and restart) in a loop.
        if await wait_for_discord(discord.http.Route.BASE, stop=bot.is_closed):
            await bot.start(token)


def _shutdown(bot: discord.Client, signum: int) -> None:
    """Close the bot on a signal, from the event loop."""
    log.info("Received %s, closing the connection", signal.Signals(signum).name)
    asyncio.get_running_loop().create_task(bot.close())


def health_problem(max_age: float = HEALTH_MAX_AGE) -> str | None:
    """Say in one line why the bot is not healthy, or return None if it is."""
    try:
        path = load_settings(DiscordSettings).health_file
    except ConfigError as error:
        return str(error)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return (
            f"{path} does not exist: the bot is not running, has not connected to Discord "
            "yet, or has DISCORD_HEALTH_FILE set to another path."
        )
    except OSError as error:
        return f"cannot read the health file {path}: {error.strerror or error}"
    if age >= max_age:
        return (
            f"{path} was last touched {age:.0f} s ago (limit {max_age:.0f} s): the bot is "
            "not connected to Discord's gateway, or has stopped."
        )
    return None


def healthy(max_age: float = HEALTH_MAX_AGE) -> bool:
    """Return whether the bot touched its health file lately, printing why not on stderr."""
    problem = health_problem(max_age)
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return problem is None


def closed_for_good(code: int) -> str:
    """Say in one line why Discord ended the gateway session, and what to do about it."""
    reason = FATAL_CLOSE_CODES.get(code, "a close that cannot be resumed. Start the bot again.")
    return f"Discord closed the gateway connection with code {code}, {reason}"


def check_writable_folder(path: Path, variable: str, purpose: str) -> None:
    """Raise ConfigError naming the variable when the file's folder can't be written."""
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(
            f"{variable}: the folder {folder} does not exist, so {purpose} can never be "
            f"written. Create the folder or set {variable} to a path in an existing one."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{variable}: the folder {folder} is not writable, so {purpose} can never be written."
        )


def point_at_discord(settings: DiscordSettings) -> None:
    """Send REST calls and the gateway where the settings say, when not to Discord's own."""
    if settings.api_base:  # e.g. a shared rate-limit proxy in front of Discord
        discord.http.Route.BASE = settings.api_base.rstrip("/")
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def run() -> int:
    """Start the bot; without a token, explain how to get one and open the console."""
    try:
        discord_settings = load_settings(DiscordSettings)
        engine_settings = load_settings(EngineSettings)
        # A relative feedback path means "in the data folder", like the corpus and the index.
        discord_settings.feedback_file = engine_settings.resolve(discord_settings.feedback_file)
        if discord_settings.token is not None:
            check_writable_folder(
                discord_settings.health_file,
                "DISCORD_HEALTH_FILE",
                "the health file (Docker's HEALTHCHECK reads it)",
            )
        if discord_settings.token is not None and engine_settings.database_url is None:
            # With a database the votes go to its votes table: no file is ever written.
            discord_settings.feedback_file.parent.mkdir(parents=True, exist_ok=True)
            check_writable_folder(
                discord_settings.feedback_file, "DISCORD_FEEDBACK_FILE", "👍/👎 feedback"
            )
        docs_settings = load_settings(DocsSettings)
        jobs_settings = load_settings(JobsSettings)
        autoanswer_settings = load_settings(AutoAnswerSettings)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"error: DISCORD_FEEDBACK_FILE: cannot create its folder ({error.strerror})",
            file=sys.stderr,
        )
        return 2
    if discord_settings.token is None:
        print(NO_TOKEN, file=sys.stderr)
        if not sys.stdin.isatty():
            return 2
        from bot.console import chat

        chat(Engine.open(engine_settings, show_progress=True))
        return 0
    point_at_discord(discord_settings)
    log.info("Indexing the corpus in %s before connecting", engine_settings.corpus_dir)
    engine = Engine.open(engine_settings, show_progress=True)
    load_model = getattr(engine.encoder, "load", None)
    if load_model is not None:  # load it now, not while the first user waits for an answer
        log.info("Loading the embedding model %s", engine_settings.model)
        load_model()
    from bot.client import make_bot

    bot = make_bot(
        engine,
        discord_settings,
        docs=docs_settings,
        jobs=jobs_settings,
        autoanswer=autoanswer_settings,
    )
    return _serve_until_stopped(bot, discord_settings.token.get_secret_value().strip())


def _serve_until_stopped(bot: VerbatimBot, token: str) -> int:
    """Serve until the bot stops; return the exit status, explaining a failure in one line."""
    try:
        asyncio.run(serve(bot, token))
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        log.error("Lost the connection to Discord while logging in: %s", _network_reason(error))
        return 1
    except discord.LoginFailure:
        log.error(REFUSED_TOKEN)
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error(closed_for_good(4014))
        return 2
    except discord.ConnectionClosed as error:
        log.error(closed_for_good(error.code))
        return 2
    # Told mid-session that the token is no longer valid: the bot has logged why and closed.
    return 2 if bot.token_rejected else 0
