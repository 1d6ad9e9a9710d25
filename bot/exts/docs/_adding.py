"""The steps of /docs add that need no cog: checking the request, receiving it, the replies."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.exts.docs._fetch import Fetcher
from bot.exts.docs._members import NOT_ADMIN, is_admin
from bot.ui import escape, shorten
from index import Added, IngestError

DOWNLOAD_FAILED = "I couldn't download that file. Nothing was changed."


@dataclass(frozen=True)
class Upload:
    """A document's bytes as received, its file name, and the page it came from (for a link)."""

    data: bytes
    filename: str
    source_url: str | None
    etag: str | None = None  # a link's validators, for fetching it again conditionally
    last_modified: str | None = None


def byte_limit(max_file_mb: float) -> int:
    """Return VERBATIM_MAX_FILE_MB in bytes."""
    return int(max_file_mb * 1024 * 1024)


def refusal(
    interaction: discord.Interaction,
    file: discord.Attachment | None,
    url: str | None,
    max_file_mb: float,
) -> str | None:
    """Return why the request cannot go ahead, or None when it can."""
    if interaction.guild_id is None:
        return "Documents belong to a server: use this command in one."
    if not is_admin(interaction):
        return NOT_ADMIN
    if (file is None) == (url is None):
        return "Give one of `file`, `url` or `channel`."
    if file is not None and file.size > byte_limit(max_file_mb):
        size = file.size / 1048576
        return f"That file is {size:.1f} MB; the limit is {max_file_mb:g} MB."
    if url is not None and not url.strip().lower().startswith(("http://", "https://")):
        return "Only http:// and https:// links can be added."
    return None


async def receive(
    file: discord.Attachment | None, url: str | None, fetcher: Fetcher, max_file_mb: float
) -> Upload:
    """Read the attachment or fetch the link; raise IngestError if it is over the size limit."""
    if file is not None:
        upload = Upload(await file.read(), file.filename, None)
    else:
        assert url is not None
        fetched = await fetcher.fetch(url)
        upload = Upload(
            fetched.data,
            filename_of(fetched.url),
            fetched.url,
            fetched.etag,
            fetched.last_modified,
        )
    # Checked on the bytes themselves: a link's size is known only once it is fetched.
    if len(upload.data) > byte_limit(max_file_mb):
        raise IngestError(f"it is larger than {max_file_mb:g} MB")
    return upload


def filename_of(url: str) -> str:
    """Return the file name a link ends with (its last path segment), for reading its type."""
    return url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]


def not_added(name: str | None, error: Exception) -> str:
    """Say that the document could not be added, and why."""
    return (
        f"I couldn't add {escape(shorten(name or 'that', 200))}: {escape(str(error))}. "
        "Nothing was changed."
    )


def added_message(added: Added) -> str:
    """Say what was added: its title, id and size."""
    return added_text(added.entry.title, added.entry.doc_id, added.paragraphs, added.sentences)


def added_text(title: str, doc_id: str, paragraphs: int, sentences: int) -> str:
    """Say what was added, from its parts (an add job's result carries them)."""
    return (
        f"Added **{escape(shorten(title, 200))}** "
        f"(`{escape(doc_id)}`): {paragraphs} paragraphs, "
        f"{sentences} sentences. Questions in this server can now quote it."
    )
