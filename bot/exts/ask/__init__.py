"""Answers: /ask, mentions and direct messages, and the "Ask Verbatim" and "Find sources" menus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.ask._feedback import FeedbackLog

if TYPE_CHECKING:
    from bot.client import VerbatimBot

__all__ = ["FeedbackLog", "setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the answering cogs (discord.py's extension entry point)."""
    # Imported here, not at the top: bot.client imports FeedbackLog from this package, and
    # the cogs import bot.client, so a top-level import would go round in a circle.
    from bot.exts.ask._cog import AskCog
    from bot.exts.ask._menus import MenusCog

    await bot.add_cog(AskCog(bot))
    await bot.add_cog(MenusCog(bot))
