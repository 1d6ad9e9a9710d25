"""The Discord client: owns the command tree, the engine and the thread that runs it."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import discord
from discord.ext import commands

from bot.logs import OUTAGES, describe
from bot.settings import DiscordSettings, DocsSettings
from bot.ui import NO_PINGS
from index import Engine, GapLogs, Library

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

HEALTH_INTERVAL = 15.0
# The close code discord.py itself uses to drop a connection it will resume.
RESUMABLE_CLOSE = 4000
TOKEN_NO_LONGER_ACCEPTED = (
    "Discord no longer accepts the token (401 Unauthorized): it was probably reset in the "
    "Developer Portal. Put the new one in DISCORD_TOKEN and start the bot again."
)
# Loaded in this order at start-up; the error handler first, so it covers every command.
EXTENSIONS = (
    "bot.exts.errors",
    "bot.exts.ask",
    "bot.exts.summary",
    "bot.exts.info",
    "bot.exts.docs",
    "bot.exts.relations",
)


# Verbatim never joins voice; don't warn at every start that voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class VerbatimBot(commands.Bot):
    """A bot whose commands live in extensions and whose engine runs off the event loop."""

    def __init__(
        self, engine: Engine, settings: DiscordSettings, *, docs: DocsSettings | None = None
    ) -> None:
        # Default intents only: mentions and DMs carry their text without the privileged intent.
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=NO_PINGS,
            help_command=None,
        )
        self.engine = engine
        self.settings = settings
        self.docs_settings = docs or DocsSettings()
        self.library = Library(
            engine,
            self.docs_settings.guilds_root(engine.settings.data_dir),
            cache_size=self.docs_settings.guild_cache_size,
            shared_visible=self.docs_settings.shared_corpus_visible,
            max_documents=self.docs_settings.max_documents,
        )
        # Questions a server's documents could not answer, for /docs gaps; none from DMs.
        self.gaps = GapLogs(
            self.library.folder,
            enabled=self.docs_settings.gaps,
            keep_days=self.docs_settings.gaps_days,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=settings.engine_threads, thread_name_prefix="engine"
        )
        self.token_rejected = False
        self._logged_in = False
        self._gateway_up = False
        self._health_failing = False
        self._background: set[asyncio.Task[None]] = set()
        logging.getLogger("discord.client").addFilter(OUTAGES)  # once: the same filter
        self._guard_parsers()
        self._watch_the_token()

    def _guard_parsers(self) -> None:
        """Make an event that discord.py cannot parse cost a reconnect, not the process."""
        parsers = self._connection.parsers
        for event, parse in parsers.items():
            parsers[event] = functools.partial(self._parse_safely, event, parse)

    def _parse_safely(self, event: str, parse: Callable[[Any], None], data: Any) -> None:
        """Parse a gateway event; if discord.py cannot, log it and resume the session."""
        try:
            parse(data)
        except Exception as error:
            log.warning(
                "Could not read a %s event from Discord (%s); reconnecting to resume the session",
                event,
                describe(error),
            )
            # The client's view of Discord may now be half-updated; RESUME continues after
            # this event (its sequence number is already counted) on a fresh connection.
            if self.ws is not None:
                self._in_background(self.ws.close(code=RESUMABLE_CLOSE))

    def _watch_the_token(self) -> None:
        """Notice a 401 on any request after login: the token was reset while the bot ran."""
        request = self.http.request

        async def checked(route: discord.http.Route, **kwargs: Any) -> Any:
            try:
                return await request(route, **kwargs)
            except discord.HTTPException as error:
                if error.status == 401 and self._logged_in:
                    self._reject_token()
                raise

        self.http.request = checked  # type: ignore[method-assign]

    def _reject_token(self) -> None:
        """Log once that the token is no longer accepted, and close the bot."""
        if self.token_rejected:
            return
        self.token_rejected = True
        log.error(TOKEN_NO_LONGER_ACCEPTED)
        self._in_background(self.close())

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine on the event loop, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def login(self, token: str) -> None:
        """Log in, after which a 401 means the token was revoked rather than mistyped."""
        await super().login(token)
        self._logged_in = True

    def engine_for(self, guild_id: int | None) -> Engine:
        """Return the engine for a server's questions (its own documents), or the shared one."""
        return self.library.engine_for(guild_id)

    async def run_engine(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking engine call in the engine's threads, keeping the heartbeat alive."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    async def _report_health(self) -> None:
        """Touch the health file every few seconds while connected, for the HEALTHCHECK."""
        while not self.is_closed():
            await self._touch_health()
            await asyncio.sleep(HEALTH_INTERVAL)

    async def _touch_health(self) -> None:
        """Touch the health file if the gateway is connected; report a failure once."""
        # discord.py keeps the last latency of a dead socket, so only READY/RESUMED and a
        # disconnect tell whether the gateway is really up.
        if not self._gateway_up or self.is_ws_ratelimited():
            return
        try:
            await asyncio.to_thread(self.settings.health_file.touch)
        except OSError as error:
            if not self._health_failing:  # once per outage, not every few seconds
                log.error("Cannot write the health file DISCORD_HEALTH_FILE: %s", error)
            self._health_failing = True
        else:
            self._health_failing = False

    async def _gateway_connected(self) -> None:
        """Mark the gateway up, say so if it was down, and touch the health file at once."""
        self._gateway_up = True
        lasted = OUTAGES.back()
        if lasted is not None:
            log.info("Reconnected to Discord's gateway after %.0f s", lasted)
        await self._touch_health()

    async def on_resumed(self) -> None:
        """Count the gateway as connected again once a session is resumed."""
        await self._gateway_connected()

    async def on_disconnect(self) -> None:
        """Stop touching the health file until the gateway is back."""
        self._gateway_up = False

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Log a failed event handler, unless it failed because the bot is closing."""
        # Once the token is refused the bot closes, and every handler still running fails
        # on the closed connection: the one line already logged says why.
        if self.token_rejected or self.is_closed():
            log.debug("%s failed while closing: %s", event_method, describe(sys.exc_info()[1]))
            return
        await super().on_error(event_method, *args, **kwargs)

    async def setup_hook(self) -> None:
        """Start the health reports, load the extensions and sync the commands with Discord."""
        self._health_task = asyncio.create_task(self._report_health())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        guild_id = self.settings.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("Synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("Synced %d commands globally (may take up to an hour to appear)", len(synced))

    async def on_ready(self) -> None:
        """Log who the bot is connected as, and to how many servers."""
        user = self.user
        log.info(
            "Connected as %s (id %s) to %d servers",
            user,
            user.id if user else "?",
            len(self.guilds),
        )
        await self._gateway_connected()

    async def on_message(self, message: discord.Message) -> None:
        """Skip prefix-command processing: mentions are questions, handled by bot.exts.ask."""

    async def close(self) -> None:
        """Stop the health reports, remove the health file, disconnect and stop the threads."""
        self._gateway_up = False
        if hasattr(self, "_health_task"):
            self._health_task.cancel()
        self.settings.health_file.unlink(missing_ok=True)
        await super().close()
        self._executor.shutdown(wait=False, cancel_futures=True)
