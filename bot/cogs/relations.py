"""/relations: who spoke, met or talked with whom, as a picture and as cited quotes."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.choices import document_choices
from bot.client import VerbatimBot
from bot.relations_render import map_embed, reason_embed
from bot.relations_views import MapView, picture_file
from bot.render import CONTENT_LIMIT, NO_PINGS, escape, shorten
from index import Engine, Picture, QuestionError, Relations, draw


def draw_relations(relations: Relations) -> Picture:
    """Draw a relations result's graph (run in the engine's threads: it takes CPU)."""
    return draw(relations.graph)


def relations_map(
    engine: Engine, person: str | None, document: str | None
) -> tuple[Relations, Picture | None]:
    """Look the links up and draw them, in one call off the event loop."""
    relations = engine.relations(person=person, document=document)
    return relations, draw_relations(relations) if relations.answered else None


def warm_up() -> None:
    """Import matplotlib and networkx, which take a second or two the first time."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import networkx  # noqa: F401


def _cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    settings = getattr(interaction.client, "settings", None)
    if settings is None or settings.cooldown_seconds == 0:
        return None
    return app_commands.Cooldown(settings.cooldown_uses, settings.cooldown_seconds)


class RelationsCog(commands.Cog):
    """The map of who spoke with whom."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot
        self._warm: asyncio.Future[None] | None = None

    async def cog_load(self) -> None:
        """Import the drawing libraries in the background, so the first /relations is quick."""
        self._warm = asyncio.ensure_future(self.bot.run_engine(warm_up))

    @app_commands.command(name="relations")
    @app_commands.describe(
        person="Only this person's links (a full name or a surname)",
        document="Only this document (default: all of them)",
    )
    @app_commands.checks.dynamic_cooldown(_cooldown, key=lambda i: i.user.id)
    async def relations(
        self,
        interaction: discord.Interaction,
        person: str | None = None,
        document: str | None = None,
    ) -> None:
        """Show who spoke, met or talked with whom: a picture and the quotes behind it."""
        await interaction.response.defer(thinking=True)
        guild_id = interaction.guild_id
        try:
            # Finding the server's engine may load its index from disk: off the event loop too.
            result, picture = await self.bot.run_engine(
                lambda: relations_map(self.bot.engine_for(guild_id), person, document)
            )
        except QuestionError as error:
            await interaction.followup.send(
                shorten(escape(str(error)), CONTENT_LIMIT), allowed_mentions=NO_PINGS
            )
            return
        if picture is None:
            await interaction.followup.send(embed=reason_embed(result), allowed_mentions=NO_PINGS)
            return
        await interaction.followup.send(
            embed=map_embed(result, 0, left_out=picture.left_out),
            file=picture_file(picture),
            view=MapView(result, picture.left_out),
            allowed_mentions=NO_PINGS,
        )

    @relations.autocomplete("document")
    async def complete_document(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the documents whose id or title contains what was typed."""
        return await document_choices(self.bot, interaction.guild_id, current)


async def setup(bot: VerbatimBot) -> None:
    """Add the cog (discord.py extension entry point)."""
    await bot.add_cog(RelationsCog(bot))
