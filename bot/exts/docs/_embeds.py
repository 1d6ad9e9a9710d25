"""A server's own documents as a Discord embed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.ui import COLOUR, FIELDS_LIMIT, escape, shorten
from index import LibraryEntry, page_flagged


def _when(stamp: object) -> str:
    """Show an ISO-8601 UTC time to the minute ("2026-12-04 16:00 UTC")."""
    return f"{str(stamp)[:16].replace('T', ' ')} UTC" if stamp else "never"


def page_lines(page: Mapping[str, Any]) -> str:
    """Say when a page was last fetched and will be next, and whether it keeps failing."""
    text = (
        f"\nfetched {_when(page.get('last_fetch'))} · next {_when(page.get('next_fetch'))} "
        f"({escape(str(page.get('every')))})"
    )
    if page_flagged(page):
        error = shorten(escape(str(page.get("error") or "an error")), 200)
        text += (
            f"\n⚠️ the last {page.get('failures')} fetches failed ({error}); "
            "the text fetched before is kept"
        )
    return text


def library_embeds(
    entries: list[LibraryEntry],
    paragraphs: dict[str, int],
    shared: int,
    pages: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[discord.Embed]:
    """List a server's documents: title, paragraphs, who added it and when, and page fetches."""
    pages = pages or {}
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
        if entry.doc_id in pages:
            value += page_lines(pages[entry.doc_id])
        embed.add_field(
            name=shorten(escape(entry.title), 256), value=shorten(value, 1024), inline=False
        )
    if len(entries) > len(shown):
        embed.add_field(name="…", value=f"and {len(entries) - len(shown)} more", inline=False)
    if shared:
        embed.set_footer(text=f"Also quoted here: {shared} shared document(s) (see /sources).")
    return [embed]
