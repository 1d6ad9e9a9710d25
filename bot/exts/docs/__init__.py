"""A server's own documents: /docs add, list, remove and reindex, with safe fetching of links."""

from __future__ import annotations

from bot.client import VerbatimBot
from bot.exts.docs._cog import DocsCog

__all__ = ["setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the documents cog (discord.py's extension entry point)."""
    await bot.add_cog(DocsCog(bot))
