"""/sources and /help."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.render import NO_PINGS, help_embeds, sources_embeds


class InfoCog(commands.Cog):
    """What the bot knows and how to use it."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction) -> None:
        """List the documents I can quote, with their paragraph counts (also /docs list)."""
        await interaction.response.defer(thinking=True)
        guild_id = interaction.guild_id
        engine = await self.bot.run_engine(lambda: self.bot.engine_for(guild_id))
        skipped = [problem.path for problem in engine.problems]
        await interaction.followup.send(
            embeds=sources_embeds(engine.sources(), skipped), allowed_mentions=NO_PINGS
        )

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction) -> None:
        """Explain what Verbatim does and how to ask it things."""
        await interaction.response.send_message(
            embeds=help_embeds(), ephemeral=True, allowed_mentions=NO_PINGS
        )


async def setup(bot: VerbatimBot) -> None:
    """Add the cog (discord.py extension entry point)."""
    await bot.add_cog(InfoCog(bot))
