"""/relations: who spoke, met or talked with whom, as a picture and as cited quotes."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.choices import document_choices
from bot.client import VerbatimBot
from bot.cooldowns import command_cooldown
from bot.exts.relations._drawing import relations_map, warm_up
from bot.exts.relations._embeds import map_embed, reason_embed
from bot.exts.relations._views import MapView, picture_file
from bot.ui import CONTENT_LIMIT, NO_PINGS, escape, shorten
from index import QuestionError


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
    @app_commands.checks.dynamic_cooldown(command_cooldown, key=lambda i: i.user.id)
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
