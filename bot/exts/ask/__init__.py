"""Answers: /ask, mentions and direct messages, and the "Ask Verbatim" and "Find sources" menus."""

from __future__ import annotations

from bot.client import VerbatimBot
from bot.exts.ask._cog import AskCog, answer_and_log
from bot.exts.ask._embeds import answer_embeds
from bot.exts.ask._feedback import FeedbackLog
from bot.exts.ask._menus import MenusCog
from bot.exts.ask._views import AnswerView

__all__ = ["AnswerView", "FeedbackLog", "answer_and_log", "answer_embeds", "setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the answering cogs, sharing one feedback log (discord.py's extension entry point)."""
    # One log for both cogs, through the library's one vote log (its lock serialises the
    # writes to, and rotation of, one file).
    feedback = FeedbackLog(bot.library)
    await bot.add_cog(AskCog(bot, feedback))
    await bot.add_cog(MenusCog(bot, feedback))
