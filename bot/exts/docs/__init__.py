"""A server's own documents: /docs add, list, remove and reindex, with safe fetching of links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.docs._fetch import Fetcher, fetcher_from

if TYPE_CHECKING:
    from bot.client import VerbatimBot

__all__ = ["Fetcher", "fetcher_from", "setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the documents cog (discord.py's extension entry point)."""
    # Imported on loading, not at the top: bot.client imports fetcher_from from this package,
    # and the cog imports bot.client, so a top-level import would go round in a circle.
    from bot.exts.docs._cog import DocsCog

    await bot.add_cog(DocsCog(bot))
