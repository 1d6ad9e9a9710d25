"""The Discord client: owns the command tree, the engine and the thread that runs it."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import discord
from discord.ext import commands

from bot.identify import IdentifyGate
from bot.intents import gateway_intents, messages_needed, portal_grants_message_content
from bot.logs import OUTAGES, describe
from bot.settings import AutoAnswerSettings, DiscordSettings, DocsSettings, JobsSettings
from bot.tree import load_commands, sync_commands
from bot.ui import NO_PINGS
from bot.worker import start_runner
from index import (
    Engine,
    GapLogs,
    JobQueue,
    JobRunner,
    Library,
    ServerStates,
    open_gap_logs,
    open_jobs,
    open_states,
    turns_for,
    worker_name,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

HEALTH_INTERVAL = 15.0
# How often a process that does not read messages looks whether another one turned a reader on.
READERS_INTERVAL = 60.0
# The close code discord.py itself uses to drop a connection it will resume.
RESUMABLE_CLOSE = 4000
TOKEN_NO_LONGER_ACCEPTED = (
    "Discord no longer accepts the token (401 Unauthorized): it was probably reset in the "
    "Developer Portal. Put the new one in DISCORD_TOKEN and start the bot again."
)
# Verbatim never joins voice; don't warn at every start that voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class VerbatimBot(commands.Bot):
    """A bot whose commands live in extensions and whose engine runs off the event loop."""

    def __init__(
        self,
        engine: Engine,
        settings: DiscordSettings,
        *,
        docs: DocsSettings | None = None,
        jobs: JobsSettings | None = None,
        autoanswer: AutoAnswerSettings | None = None,
        **options: Any,
    ) -> None:
        self.docs_settings = docs or DocsSettings()
        guilds_root = self.docs_settings.guilds_root(engine.settings.data_dir)
        # Servers' small settings (auto-answer channels...), in their folders or the database.
        self.states: ServerStates = open_states(engine.settings, guilds_root)
        reads = self.docs_settings.message_content or messages_needed(self.states)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=gateway_intents(message_content=reads),
            allowed_mentions=NO_PINGS,
            help_command=None,
            **options,
        )
        self.engine = engine
        self.settings = settings
        self.autoanswer_settings = autoanswer or AutoAnswerSettings()
        self.library = Library(
            engine,
            guilds_root,
            cache_size=self.docs_settings.guild_cache_size,
            shared_visible=self.docs_settings.shared_corpus_visible,
            max_documents=self.docs_settings.max_documents,
            feedback_file=settings.feedback_file,
            feedback_max_bytes=settings.feedback_max_bytes,
        )
        # Questions a server's documents could not answer, for /docs gaps; none from DMs.
        self.gaps: GapLogs = open_gap_logs(
            engine.settings,
            self.library.folder,
            enabled=self.docs_settings.gaps,
            keep_days=self.docs_settings.gaps_days,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=settings.engine_threads, thread_name_prefix="engine"
        )
        # With a database, /docs changes are jobs that any process may run; None on files.
        self.jobs_settings = jobs or JobsSettings()
        self.jobs: JobQueue | None = open_jobs(
            engine.settings, lease_seconds=self.jobs_settings.lease_seconds
        )
        self._jobs_stop = threading.Event()
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
            socket = self._socket_for(data)
            if socket is not None:
                self._in_background(socket.close(code=RESUMABLE_CLOSE))

    def _socket_for(self, data: Any) -> discord.gateway.DiscordWebSocket | None:
        """Return the gateway connection an event came on: the only one."""
        return self.ws

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

    @property
    def reads_message_text(self) -> bool:
        """Whether this process's gateway sessions ask for the Message Content intent."""
        return self._connection._intents.message_content

    async def message_text_granted(self) -> bool:
        """Return whether Discord will send message text: asked for already, or granted."""
        if self.reads_message_text:
            return True  # Discord would have refused the session (4014) had it not been granted
        # The Developer Portal may have changed since the bot connected: ask Discord now.
        info = await self.application_info()
        return portal_grants_message_content(info.flags)

    async def read_message_text(self) -> bool:
        """Ask for message text from now on; return whether the sessions had to start anew."""
        if self.reads_message_text:
            return False
        # discord.py sends the intents at IDENTIFY, from the connection state's own copy.
        self._connection._intents.message_content = True
        log.info("Starting new gateway sessions with the Message Content intent")
        for socket in self._sockets():
            await self._identify_again(socket)
        return True

    def _sockets(self) -> list[discord.gateway.DiscordWebSocket]:
        """Return this process's gateway connections: the only one."""
        return [self.ws] if self.ws is not None else []

    async def _identify_again(self, socket: discord.gateway.DiscordWebSocket) -> None:
        """Close a connection so that discord.py starts a new session, not a resumed one."""
        # A resumed session keeps the intents it was opened with. Without a session id, the
        # RESUME that discord.py sends after this close is refused (INVALID_SESSION), and
        # discord.py then IDENTIFYs afresh, with the intents now set.
        socket.session_id = None
        socket.sequence = None
        await socket.close(code=RESUMABLE_CLOSE)

    async def _watch_for_readers(self) -> None:
        """Ask for message text once another process turns on a channel that needs it."""
        while not self.is_closed() and not self.reads_message_text:
            await asyncio.sleep(READERS_INTERVAL)
            try:
                needed = await asyncio.to_thread(messages_needed, self.states)
            except Exception as error:  # the database may be down a while: look again later
                log.warning("Cannot read which channels need message text: %s", describe(error))
                continue
            if needed and self.is_ready():
                await self.read_message_text()

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Dispatch an event, unless the bot has no event loop: not started, or closed."""
        # discord.py's connect loop reports the disconnect that close() caused, and can do so
        # after close() has finished and dropped the loop: that event has no one to tell.
        if not isinstance(self.loop, asyncio.AbstractEventLoop):
            log.debug("Not dispatching %s: the bot is closed", event_name)
            return
        super().dispatch(event_name, *args, **kwargs)

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
        self._readers_task = asyncio.create_task(self._watch_for_readers())
        if self.jobs is not None and self.jobs_settings.in_bot:
            runner = JobRunner(self.jobs, self.library, worker=worker_name("bot"))
            start_runner(runner, self._jobs_stop, self.jobs_settings, name="jobs")
            log.info("Taking /docs jobs in this process too (VERBATIM_JOBS_IN_BOT=true)")
        await load_commands(self)
        if self.settings.holds_shard_zero:
            await sync_commands(self, self.settings.dev_guild_id)
        else:
            # Every shard process has the same tree; one sync (shard 0's) is enough, and N
            # syncs at each rollout would spend the application's rate limit for nothing.
            log.info("Not syncing commands: the process with shard 0 (or `verbatim sync`) does")

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
        self._jobs_stop.set()  # the job in hand finishes; none is taken after it
        if hasattr(self, "_health_task"):
            self._health_task.cancel()
            self._readers_task.cancel()
        self.settings.health_file.unlink(missing_ok=True)
        await super().close()
        self._executor.shutdown(wait=False, cancel_futures=True)


class ShardedVerbatimBot(VerbatimBot, commands.AutoShardedBot):
    """The same bot over some shards of a sharded application, one connection per shard."""

    # The MRO puts AutoShardedClient's connection handling under VerbatimBot's behaviour:
    # commands.Bot adds nothing of its own over BotBase and Client.

    def __init__(
        self,
        engine: Engine,
        settings: DiscordSettings,
        *,
        docs: DocsSettings | None = None,
        jobs: JobsSettings | None = None,
        autoanswer: AutoAnswerSettings | None = None,
    ) -> None:
        shard_ids = list(settings.shard_ids) if settings.shard_ids is not None else None
        super().__init__(
            engine,
            settings,
            docs=docs,
            jobs=jobs,
            autoanswer=autoanswer,
            shard_count=settings.shard_count,
            shard_ids=shard_ids,
        )
        # Session starts are shared by every process of the application, wherever it runs.
        self.identify_gate = IdentifyGate(turns_for(engine.settings, "identify"))
        self._max_concurrency: int | None = None

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for the shard's max_concurrency bucket to be free in every process."""
        if self._max_concurrency is None:
            self._max_concurrency = await self._session_starts_at_once()
            log.info(
                "Running shards %s of %d; Discord allows %d IDENTIFY at a time",
                ",".join(str(shard) for shard in self.shard_ids or range(self.shard_count or 1)),
                self.shard_count or 1,
                self._max_concurrency,
            )
        await self.identify_gate.wait_turn(shard_id or 0, self._max_concurrency)

    async def _session_starts_at_once(self) -> int:
        """Return max_concurrency from GET /gateway/bot; 1, the safe figure, if it cannot say."""
        try:
            limits = await self.fetch_session_start_limits()
        except (discord.GatewayNotFound, discord.HTTPException) as error:
            log.warning("Cannot read max_concurrency (%s); starting one shard at a time", error)
            return 1
        return max(1, limits.max_concurrency)

    def _sockets(self) -> list[discord.gateway.DiscordWebSocket]:
        """Return the connection of every shard this process runs."""
        return [info._parent.ws for info in self.shards.values() if info._parent.ws is not None]

    def _socket_for(self, data: Any) -> discord.gateway.DiscordWebSocket | None:
        """Return the connection of the shard an event came on: its server's, or shard 0 (DMs)."""
        guild = str(data.get("guild_id") or "") if isinstance(data, dict) else ""
        shard_id = (int(guild) >> 22) % (self.shard_count or 1) if guild.isdigit() else 0
        info = self.get_shard(shard_id)
        return None if info is None else info._parent.ws


def make_bot(
    engine: Engine,
    settings: DiscordSettings,
    *,
    docs: DocsSettings | None = None,
    jobs: JobsSettings | None = None,
    autoanswer: AutoAnswerSettings | None = None,
) -> VerbatimBot:
    """Return the bot the settings ask for: sharded by DISCORD_SHARD_COUNT, or one connection."""
    if settings.sharded:
        return ShardedVerbatimBot(engine, settings, docs=docs, jobs=jobs, autoanswer=autoanswer)
    return VerbatimBot(engine, settings, docs=docs, jobs=jobs, autoanswer=autoanswer)
