"""Who spoke with whom: /relations, and the picture offered under /ask's routed answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.relations._drawing import draw_relations
from bot.exts.relations._embeds import answer_embeds
from bot.exts.relations._views import PictureView

if TYPE_CHECKING:
    from bot.client import VerbatimBot

__all__ = ["PictureView", "answer_embeds", "draw_relations", "setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the relations cog (discord.py's extension entry point)."""
    # Imported on loading, as in every extension package here: cogs import bot.client, and
    # bot.client imports helpers from these packages, so importing cogs at the top would cycle.
    from bot.exts.relations._cog import RelationsCog

    await bot.add_cog(RelationsCog(bot))
