"""/docs: a server's own documents, added, listed, removed and re-indexed from Discord."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.fetch import FetchError
from bot.render import COLOUR, FIELDS_LIMIT, NO_PINGS, escape, shorten
from index import Added, IngestError, LibraryEntry, Prepared, prepare

log = logging.getLogger(__name__)
T = TypeVar("T")

PROGRESS_EVERY = 1.0
NOT_ADMIN = "Only members with the **Manage Server** permission can change this server's documents."


def is_admin(interaction: discord.Interaction) -> bool:
    """Check, when the command runs, that the member may manage the server."""
    permissions = interaction.permissions
    return permissions.manage_guild or permissions.administrator


async def admin_guild(interaction: discord.Interaction) -> int | None:
    """Return the server's id if an admin ran the command there; else say no, privately."""
    if interaction.guild_id is not None and is_admin(interaction):
        return interaction.guild_id
    await interaction.response.send_message(NOT_ADMIN, ephemeral=True, allowed_mentions=NO_PINGS)
    return None


def who(user: discord.abc.User) -> str:
    """Name a user for the list and the audit log: their name and id."""
    return f"{user.name} ({user.id})"


class Progress:
    """Edit a deferred reply with indexing progress, at most once a second, from any thread."""

    def __init__(self, interaction: discord.Interaction, loop: asyncio.AbstractEventLoop) -> None:
        self.interaction = interaction
        self.loop = loop
        self.done = self.total = 0
        self.changed = asyncio.Event()

    def __call__(self, done: int, total: int) -> None:
        # Called in an engine thread: hand the numbers to the event loop.
        self.loop.call_soon_threadsafe(self._update, done, total)

    def _update(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.changed.set()

    async def run(self) -> None:
        while True:
            await self.changed.wait()
            self.changed.clear()
            text = f"Embedding {self.done}/{self.total} sentences…"
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.edit_original_response(content=text)
            await asyncio.sleep(PROGRESS_EVERY)


def library_embeds(
    entries: list[LibraryEntry], paragraphs: dict[str, int], shared: int
) -> list[discord.Embed]:
    """List a server's documents: title, paragraphs, who added it and when."""
    embed = discord.Embed(title="This server's documents", colour=COLOUR)
    if not entries:
        embed.description = "None yet: an admin can add one with `/docs add`."
    shown = entries[: FIELDS_LIMIT - 1] if len(entries) > FIELDS_LIMIT else entries
    for entry in shown:
        value = (
            f"`{escape(entry.doc_id)}` · {paragraphs.get(entry.doc_id, 0)} paragraphs\n"
            f"added by {escape(entry.added_by)} on {entry.added_at[:10]}"
        )
        if entry.source_url:
            value += f"\n<{entry.source_url[:300]}>"
        embed.add_field(
            name=shorten(escape(entry.title), 256), value=shorten(value, 1024), inline=False
        )
    if len(entries) > len(shown):
        embed.add_field(name="…", value=f"and {len(entries) - len(shown)} more", inline=False)
    if shared:
        embed.set_footer(text=f"Also quoted here: {shared} shared document(s) (see /sources).")
    return [embed]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DocsCog(commands.GroupCog, group_name="docs"):
    """Manage this server's documents."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot
        self._changing: dict[int, asyncio.Lock] = {}
        # Changes in different servers may run together, but always leave a thread for questions.
        self._threads = asyncio.Semaphore(max(1, bot.settings.engine_threads - 1))
        super().__init__()

    @contextlib.asynccontextmanager
    async def _lock(self, guild_id: int) -> AsyncIterator[None]:
        """Wait for this server's previous change, and for a free engine thread."""
        # One change per server reaches the engine threads at a time, so a second admin's
        # change waits here instead of holding a thread that questions need.
        async with self._changing.setdefault(guild_id, asyncio.Lock()), self._threads:
            yield

    async def _with_progress(
        self, interaction: discord.Interaction, work: Callable[[Progress], T]
    ) -> T:
        """Run a change in the engine's threads while editing the reply with progress."""
        progress = Progress(interaction, asyncio.get_running_loop())
        reporter = asyncio.create_task(progress.run())
        try:
            return await self.bot.run_engine(work, progress)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)

    @app_commands.command(name="add")
    @app_commands.describe(
        file="A .txt, .md, .html or .pdf file",
        url="An http(s) link to a web page or PDF",
        title="The title to cite (default: the document's own)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: str | None = None,
        title: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Add a document to this server from a file or a link."""
        settings = self.bot.docs_settings
        limit = int(settings.max_file_mb * 1024 * 1024)
        refusal = None
        if interaction.guild_id is None:
            refusal = "Documents belong to a server: use this command in one."
        elif not is_admin(interaction):
            refusal = NOT_ADMIN
        elif (file is None) == (url is None):
            refusal = "Give either a `file` or a `url` (one of them)."
        elif file is not None and file.size > limit:
            size = file.size / 1048576
            refusal = f"That file is {size:.1f} MB; the limit is {settings.max_file_mb:g} MB."
        elif url is not None and not url.strip().lower().startswith(("http://", "https://")):
            refusal = "Only http:// and https:// links can be added."
        if refusal or interaction.guild_id is None:
            await interaction.response.send_message(
                refusal, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        guild_id = interaction.guild_id
        await interaction.response.defer(ephemeral=True, thinking=True)
        name = file.filename if file is not None else url
        try:
            if file is not None:
                data, filename, source_url = await file.read(), file.filename, None
            else:
                assert url is not None
                fetched = await self.bot.fetcher.fetch(url)
                data, source_url = fetched.data, fetched.url
                filename = fetched.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            if len(data) > limit:
                raise IngestError(f"it is larger than {settings.max_file_mb:g} MB")
            prepared: Prepared = await self.bot.run_engine(
                prepare, data, filename=filename, title=title
            )
            async with self._lock(guild_id):
                await self._say(interaction, "Storing and indexing…")
                added: Added = await self._with_progress(
                    interaction,
                    lambda progress: self.bot.library.add(
                        guild_id,
                        prepared,
                        added_by=who(interaction.user),
                        source_url=source_url,
                        progress=progress,
                    ),
                )
        except (FetchError, IngestError) as error:
            await self._say(
                interaction,
                f"I couldn't add {escape(shorten(name or 'that', 200))}: {escape(str(error))}. "
                "Nothing was changed.",
            )
            return
        except discord.HTTPException:
            await self._say(interaction, "I couldn't download that file. Nothing was changed.")
            return
        await self._say(
            interaction,
            f"Added **{escape(shorten(added.entry.title, 200))}** "
            f"(`{escape(added.entry.doc_id)}`): {added.paragraphs} paragraphs, "
            f"{added.sentences} sentences. Questions in this server can now quote it.",
        )

    @app_commands.command(name="remove")
    @app_commands.describe(document="The document to remove")
    async def remove(self, interaction: discord.Interaction, document: str) -> None:
        """Remove one of this server's documents."""
        guild_id = await admin_guild(interaction)
        if guild_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            async with self._lock(guild_id):
                entry = await self.bot.run_engine(
                    lambda: self.bot.library.remove(
                        guild_id, document, removed_by=who(interaction.user)
                    )
                )
        except IngestError as error:
            await self._say(interaction, f"Nothing removed: {escape(str(error))}.")
            return
        await self._say(interaction, f"Removed **{escape(shorten(entry.title, 200))}**.")

    @remove.autocomplete("document")
    async def complete_document(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer this server's documents whose id or title contains what was typed."""
        if interaction.guild_id is None:
            return []
        typed = current.casefold()
        entries = await asyncio.to_thread(self.bot.library.entries, interaction.guild_id)
        return [
            app_commands.Choice(name=shorten(entry.title, 100), value=entry.doc_id[:100])
            for entry in entries
            if typed in entry.title.casefold() or typed in entry.doc_id
        ][:25]

    @app_commands.command(name="list")
    async def list_documents(self, interaction: discord.Interaction) -> None:
        """List this server's documents: title, paragraphs, who added them and when."""
        if interaction.guild_id is None:
            return
        guild_id = interaction.guild_id
        await interaction.response.defer(ephemeral=True, thinking=True)
        library = self.bot.library

        def gather() -> tuple[list[LibraryEntry], dict[str, int], int]:
            engine = library.engine_for(guild_id)
            paragraphs = {s.document: s.paragraphs for s in engine.sources()}
            shared = len(library.shared.sources()) if library.shared_visible else 0
            return library.entries(guild_id), paragraphs, shared

        entries, paragraphs, shared = await self.bot.run_engine(gather)
        await interaction.followup.send(
            embeds=library_embeds(entries, paragraphs, shared),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="reindex")
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Re-read this server's documents and bring its index up to date."""
        guild_id = await admin_guild(interaction)
        if guild_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self._lock(guild_id):
            report = await self._with_progress(
                interaction,
                lambda progress: self.bot.library.reindex(
                    guild_id, requested_by=who(interaction.user), progress=progress
                ),
            )
        await self._say(
            interaction,
            f"Re-indexed in {report.seconds:.1f} s: embedded {len(report.embedded)}, "
            f"reused {len(report.reused)}, removed {len(report.removed)} document(s).",
        )


async def setup(bot: VerbatimBot) -> None:
    """Add the cog (discord.py extension entry point)."""
    await bot.add_cog(DocsCog(bot))
