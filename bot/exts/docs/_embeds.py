"""A server's own documents as a Discord embed."""

from __future__ import annotations

import discord

from bot.ui import COLOUR, FIELDS_LIMIT, escape, shorten
from index import LibraryEntry


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
