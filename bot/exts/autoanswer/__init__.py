"""Auto-answer channels: /autoanswer on|off|list, and unasked replies that only come when sure."""

from __future__ import annotations

from bot.autoanswer_channels import AutoAnswerChannels
from bot.client import VerbatimBot
from bot.exts.ask import FeedbackLog
from bot.exts.autoanswer._commands import AutoAnswerCommands
from bot.exts.autoanswer._replies import UnaskedReplies

__all__ = ["setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the commands and the replies, sharing one view of the channels."""
    channels = AutoAnswerChannels(bot.states)
    await bot.add_cog(AutoAnswerCommands(bot, channels))
    await bot.add_cog(UnaskedReplies(bot, FeedbackLog(bot.library), channels))
