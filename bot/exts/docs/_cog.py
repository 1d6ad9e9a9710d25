"""/docs: a server's own documents, added, listed, removed and re-indexed from Discord."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.exts.docs._adding import (
    DOWNLOAD_FAILED,
    Upload,
    added_message,
    added_text,
    not_added,
    receive,
    refusal,
)
from bot.exts.docs._channel_adder import ChannelAdder
from bot.exts.docs._channels import SourceOption
from bot.exts.docs._embeds import library_embeds
from bot.exts.docs._fetch import FetchError, fetcher_from
from bot.exts.docs._jobs import JobReply
from bot.exts.docs._members import admin_guild, who
from bot.exts.docs._progress import Progress
from bot.exts.docs._refresh import Refresher
from bot.ui import NO_PINGS, escape, shorten
from index import (
    Added,
    IngestError,
    JobQueue,
    LibraryEntry,
    Page,
    Prepared,
    prepare,
    put_add,
    put_reindex,
    put_remove,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DocsCog(commands.GroupCog, group_name="docs"):
    """Manage this server's documents."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot
        self.fetcher = fetcher_from(bot.docs_settings)
        self._changing: dict[int, asyncio.Lock] = {}
        # Changes in different servers may run together, but always leave a thread for questions.
        self._threads = asyncio.Semaphore(max(1, bot.settings.engine_threads - 1))
        self.refresher = Refresher(bot, fetcher=lambda: self.fetcher, changing=self._lock)
        self.channels = ChannelAdder(bot, self._lock, self._with_progress, self._say)
        super().__init__()

    async def cog_load(self) -> None:
        """Start fetching pages added by link again when they are due."""
        self.refresher.start(self.bot.docs_settings.refresh_check_seconds)

    async def cog_unload(self) -> None:
        """Stop fetching pages again."""
        await self.refresher.stop()

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
        """Replace the deferred reply's text."""
        await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)

    @app_commands.command(name="add")
    @app_commands.describe(
        file="A .txt, .md, .html, .pdf or .docx file",
        url="An http(s) link to a web page, PDF or Word document",
        channel="A text channel, forum or thread of this server, kept up to date as it changes",
        since="With a channel: read its messages from this day on (YYYY-MM-DD)",
        title="The title to cite (default: the document's own)",
        refresh="For a link: how often to fetch the page again for changes (default weekly)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: str | None = None,
        channel: SourceOption | None = None,
        since: app_commands.Range[str, 1, 40] | None = None,
        title: app_commands.Range[str, 1, 200] | None = None,
        refresh: Literal["daily", "weekly", "never"] = "weekly",
    ) -> None:
        """Add a document to this server from a file, a link or one of its channels."""
        if channel is not None or since is not None:
            await self.channels.add(interaction, channel, file or url, since, title)
            return
        max_file_mb = self.bot.docs_settings.max_file_mb
        refused = refusal(interaction, file, url, max_file_mb)
        if refused or interaction.guild_id is None:
            await interaction.response.send_message(
                refused, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        guild_id = interaction.guild_id
        reply = JobReply(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        name = file.filename if file is not None else url
        queue = self.bot.jobs
        try:
            upload = await receive(file, url, self.fetcher, max_file_mb)
            prepared = await self._prepare(upload, title)
            page = _page(url, refresh, upload)
            # With a database the change is a job that any process may run; else it runs here.
            added = (
                None
                if queue is not None
                else await self._store(interaction, guild_id, prepared, upload.source_url, page)
            )
        except (FetchError, IngestError) as error:
            await self._say(interaction, not_added(name, error))
            return
        except discord.HTTPException:
            await self._say(interaction, DOWNLOAD_FAILED)
            return
        if queue is not None:
            await self._add_by_job(reply, queue, guild_id, prepared, upload, name, page)
        elif added is not None:
            await self._say(interaction, added_message(added) + _schedule_note(page))

    async def _add_by_job(
        self,
        reply: JobReply,
        queue: JobQueue,
        guild_id: int,
        prepared: Prepared,
        upload: Upload,
        name: str | None,
        page: Page | None,
    ) -> None:
        """Queue the add for any process to run, and tell its result when it is done."""
        job_id = await asyncio.to_thread(
            put_add,
            queue,
            guild_id,
            prepared,
            added_by=who(reply.interaction.user),
            source_url=upload.source_url,
            page=page,
        )
        job = await reply.follow(queue, job_id)
        if job is None:
            return
        if job.state == "done" and job.result is not None:
            result = job.result
            text = added_text(
                str(result["title"]),
                str(result["doc_id"]),
                int(result["paragraphs"]),
                int(result["sentences"]),
            ) + _schedule_note(page)
        else:
            text = not_added(name, Exception(job.error or "the job failed"))
        await reply.tell(text)

    async def _prepare(self, upload: Upload, title: str | None) -> Prepared:
        """Read the upload into a document with exact offsets, in the engine's threads."""
        prepared: Prepared = await self.bot.run_engine(
            prepare, upload.data, filename=upload.filename, title=title
        )
        return prepared

    async def _store(
        self,
        interaction: discord.Interaction,
        guild_id: int,
        prepared: Prepared,
        source_url: str | None,
        page: Page | None,
    ) -> Added:
        """Store the document and index it, once the server's previous change is done."""
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
                    page=page,
                ),
            )
            return added

    @app_commands.command(name="remove")
    @app_commands.describe(document="The document to remove")
    async def remove(self, interaction: discord.Interaction, document: str) -> None:
        """Remove one of this server's documents."""
        guild_id = await admin_guild(interaction)
        if guild_id is None:
            return
        reply = JobReply(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if self.bot.jobs is not None:
            await self._remove_by_job(reply, self.bot.jobs, guild_id, document)
            return
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
        await self.channels.forget(guild_id, entry.doc_id)
        await self._say(interaction, f"Removed **{escape(shorten(entry.title, 200))}**.")

    async def _remove_by_job(
        self, reply: JobReply, queue: JobQueue, guild_id: int, document: str
    ) -> None:
        """Check the document is there, queue its removal, and tell the result."""
        entries = await asyncio.to_thread(self.bot.library.entries, guild_id)
        entry = next((e for e in entries if e.doc_id == document), None)
        if entry is None:
            await reply.tell(
                f"Nothing removed: there is no document '{escape(shorten(document, 100))}' "
                "in this server."
            )
            return
        job_id = await asyncio.to_thread(
            put_remove,
            queue,
            guild_id,
            entry.doc_id,
            title=entry.title,
            removed_by=who(reply.interaction.user),
        )
        job = await reply.follow(queue, job_id)
        if job is None:
            return
        if job.state == "done" and job.result is not None:
            await self.channels.forget(guild_id, entry.doc_id)
            title = str(job.result.get("title") or entry.title)
            await reply.tell(f"Removed **{escape(shorten(title, 200))}**.")
        else:
            await reply.tell(f"Nothing removed: {escape(job.error or 'the job failed')}.")

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

        def gather() -> tuple[list[LibraryEntry], dict[str, int], int, dict[str, dict[str, Any]]]:
            """Collect the entries, their paragraph counts, the shared count and the schedules."""
            engine = library.engine_for(guild_id)
            paragraphs = {s.document: s.paragraphs for s in engine.sources()}
            shared = len(library.shared.sources()) if library.shared_visible else 0
            return library.entries(guild_id), paragraphs, shared, library.pages.read(guild_id)

        entries, paragraphs, shared, pages = await self.bot.run_engine(gather)
        await interaction.followup.send(
            embeds=library_embeds(entries, paragraphs, shared, pages),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="reindex")
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Re-read this server's documents and bring its index up to date."""
        guild_id = await admin_guild(interaction)
        if guild_id is None:
            return
        reply = JobReply(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if self.bot.jobs is not None:
            await self._reindex_by_job(reply, self.bot.jobs, guild_id)
            return
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

    async def _reindex_by_job(self, reply: JobReply, queue: JobQueue, guild_id: int) -> None:
        """Queue re-reading the server's documents, and tell the result."""
        job_id = await asyncio.to_thread(
            put_reindex, queue, guild_id, requested_by=who(reply.interaction.user)
        )
        job = await reply.follow(queue, job_id)
        if job is None:
            return
        result = job.result or {}
        if job.state != "done":
            await reply.tell(f"Not re-indexed: {escape(job.error or 'the job failed')}.")
            return
        await reply.tell(
            f"Re-indexed in {float(result.get('seconds', 0)):.1f} s: embedded "
            f"{result.get('embedded')}, reused {result.get('reused')}, removed "
            f"{result.get('removed')} document(s).",
        )


def _page(url: str | None, refresh: str, upload: Upload) -> Page | None:
    """Return how an added link is to be fetched again; None for a file, or `never`."""
    if url is None or refresh == "never":
        return None
    return Page(url.strip(), refresh, upload.etag, upload.last_modified)


def _schedule_note(page: Page | None) -> str:
    """Say how often an added page will be fetched again, if it will."""
    return "" if page is None else f" I'll fetch the page again {page.every} for changes."
