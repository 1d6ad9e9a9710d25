"""Autocomplete choices shared by the commands that take a document."""

from __future__ import annotations

from discord import app_commands

from bot.client import VerbatimBot

CHOICES_LIMIT = 25  # Discord shows at most 25 autocomplete choices


async def document_choices(
    bot: VerbatimBot, guild_id: int | None, current: str
) -> list[app_commands.Choice[str]]:
    """Offer the server's documents whose id or title contains what was typed."""
    typed = current.casefold()
    sources = await bot.run_engine(lambda: bot.engine_for(guild_id).sources())
    return [
        app_commands.Choice(name=source.title[:100], value=source.document[:100])
        for source in sources
        if typed in source.title.casefold() or typed in source.document
    ][:CHOICES_LIMIT]
