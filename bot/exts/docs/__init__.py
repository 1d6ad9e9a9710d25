"""A server's own documents: /docs add, list, remove, reindex and gaps, with safe fetching."""

from __future__ import annotations

from bot.client import VerbatimBot
from bot.exts.docs._cog import DocsCog
from bot.exts.docs._feed import ChannelFeed
from bot.exts.docs._gaps import GapsGroup
from bot.exts.docs._members import is_admin, who

__all__ = ["is_admin", "setup", "who"]


async def setup(bot: VerbatimBot) -> None:
    """Add the documents cog (discord.py's extension entry point)."""
    cog = DocsCog(bot)
    assert cog.app_command is not None  # a GroupCog always has its group
    GapsGroup(bot, parent=cog.app_command)  # /docs gaps show|clear, nested in the cog's group
    await bot.add_cog(cog)
    # Channel documents follow their channels' messages, changing under the cog's server lock.
    await bot.add_cog(ChannelFeed(bot, cog.channels.registry, cog._lock))
