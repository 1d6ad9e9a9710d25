"""Autocomplete choices shared by the commands that take a document."""

from __future__ import annotations

import asyncio

from discord import app_commands

from bot.client import VerbatimBot
from index import Library

CHOICES_LIMIT = 25  # Discord shows at most 25 autocomplete choices


def listing(library: Library, guild_id: int | None) -> list[tuple[str, str]]:
    """Return the title and id of each document a server's questions see, shared ones first."""
    # The list of documents only: a server's index is never loaded (nor created) to fill a
    # menu, which Discord drops after 3 s, and which may come from a server this process
    # has never answered in.
    shared = guild_id is None or library.shared_visible
    found = (
        [(source.title, source.document) for source in library.shared.sources()] if shared else []
    )
    if guild_id is not None:
        found += [(entry.title, entry.doc_id) for entry in library.entries(guild_id)]
    return found


async def document_choices(
    bot: VerbatimBot, guild_id: int | None, current: str
) -> list[app_commands.Choice[str]]:
    """Offer the server's documents whose id or title contains what was typed."""
    typed = current.casefold()
    # Not in the engine's threads: a long question there must not make the menu time out.
    documents = await asyncio.to_thread(listing, bot.library, guild_id)
    return [
        app_commands.Choice(name=title[:100], value=document[:100])
        for title, document in documents
        if typed in title.casefold() or typed in document
    ][:CHOICES_LIMIT]
