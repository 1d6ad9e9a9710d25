"""/summary: the key sentences of a document, optionally on a topic."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.choices import document_choices
from bot.client import VerbatimBot
from bot.ui import (
    ABSTAIN_COLOUR,
    COLOUR,
    CONTENT_LIMIT,
    DESCRIPTION_BUDGET,
    DESCRIPTION_LIMIT,
    NO_PINGS,
    TITLE_LIMIT,
    escape,
    fit_footer,
    shorten,
)
from index import QuestionError, Summary

LENGTHS = [
    app_commands.Choice(name="short (3 sentences)", value=3),
    app_commands.Choice(name="medium (5 sentences)", value=5),
    app_commands.Choice(name="long (8 sentences)", value=8),
]


def summary_embeds(summary: Summary) -> list[discord.Embed]:
    """Render a summary as one embed of cited sentences in document order."""
    what = escape(summary.document or "all documents")
    title = f"Summary of {what}" + (f" on {escape(summary.topic)}" if summary.topic else "")
    if not summary.answered:
        embed = discord.Embed(
            title=shorten(title, TITLE_LIMIT),
            description=escape(summary.reason),
            colour=ABSTAIN_COLOUR,
        )
        return [embed]
    share = DESCRIPTION_BUDGET // max(1, len(summary.quotes)) - 20
    lines = [f"• {shorten(escape(q.text), share)} [¶{q.paragraph}]" for q in summary.quotes]
    titles = sorted({q.title for q in summary.quotes})
    embed = discord.Embed(
        title=shorten(title, TITLE_LIMIT),
        description=shorten("\n".join(lines), DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    embed.set_footer(text=fit_footer("Sentences quoted verbatim from " + "; ".join(titles)))
    return [embed]


class SummaryCog(commands.Cog):
    """Extractive summaries."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot

    @app_commands.command(name="summary")
    @app_commands.describe(
        document="Which document (default: all of them)",
        topic="Only sentences about this topic",
        length="How long the summary is",
    )
    @app_commands.choices(length=LENGTHS)
    async def summary(
        self,
        interaction: discord.Interaction,
        document: str | None = None,
        topic: str | None = None,
        length: app_commands.Choice[int] | None = None,
    ) -> None:
        """Summarise a document in its own words, optionally focused on a topic."""
        await interaction.response.defer(thinking=True)
        guild_id = interaction.guild_id
        try:
            summary = await self.bot.run_engine(
                lambda: self.bot.engine_for(guild_id).summary(
                    document=document, topic=topic, length=length.value if length else 5
                )
            )
        except QuestionError as error:
            await interaction.followup.send(
                shorten(escape(str(error)), CONTENT_LIMIT), allowed_mentions=NO_PINGS
            )
            return
        await interaction.followup.send(embeds=summary_embeds(summary), allowed_mentions=NO_PINGS)

    @summary.autocomplete("document")
    async def complete_document(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the documents whose id or title contains what was typed."""
        return await document_choices(self.bot, interaction.guild_id, current)


async def setup(bot: VerbatimBot) -> None:
    """Add the summary cog (discord.py's extension entry point)."""
    await bot.add_cog(SummaryCog(bot))
