"""Who spoke with whom: /relations, and the picture offered under /ask's routed answers."""

from __future__ import annotations

from bot.client import VerbatimBot
from bot.exts.relations._cog import RelationsCog
from bot.exts.relations._drawing import draw_relations
from bot.exts.relations._embeds import answer_embeds
from bot.exts.relations._views import PictureView

__all__ = ["PictureView", "answer_embeds", "draw_relations", "setup"]


async def setup(bot: VerbatimBot) -> None:
    """Add the relations cog (discord.py's extension entry point)."""
    await bot.add_cog(RelationsCog(bot))
