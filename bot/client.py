"""The Discord client: owns the command tree, the engine and the thread that runs it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import discord
from discord.ext import commands

from bot.settings import DiscordSettings, DocsSettings
from bot.ui import NO_PINGS
from index import Engine, Library

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

HEALTH_INTERVAL = 15.0
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
        self._executor = ThreadPoolExecutor(
            max_workers=settings.engine_threads, thread_name_prefix="engine"
        )

    def engine_for(self, guild_id: int | None) -> Engine:
        """Return the engine for a server's questions (its own documents), or the shared one."""
        return self.library.engine_for(guild_id)

    async def run_engine(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking engine call in the engine's threads, keeping the heartbeat alive."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    async def _report_health(self) -> None:
        """Touch the health file every few seconds while connected, for the HEALTHCHECK."""
        await self.wait_until_ready()
        failing = False
        while not self.is_closed():
            if not self.is_ws_ratelimited() and self.latency == self.latency:  # NaN when down
                try:
                    await asyncio.to_thread(self.settings.health_file.touch)
                    failing = False
                except OSError as error:
                    if not failing:  # once per outage, not every few seconds
                        log.error("Cannot write the health file DISCORD_HEALTH_FILE: %s", error)
                    failing = True
            await asyncio.sleep(HEALTH_INTERVAL)

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

    async def on_message(self, message: discord.Message) -> None:
        """Skip prefix-command processing: mentions are questions, handled by bot.exts.ask."""

    async def close(self) -> None:
        """Stop the health reports, remove the health file, disconnect and stop the threads."""
        if hasattr(self, "_health_task"):
            self._health_task.cancel()
        self.settings.health_file.unlink(missing_ok=True)
        await super().close()
        self._executor.shutdown(wait=False, cancel_futures=True)
