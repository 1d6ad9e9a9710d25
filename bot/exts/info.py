"""/sources and /help: the documents the bot can quote, and how to ask it things."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.ui import COLOUR, FIELDS_LIMIT, NO_PINGS, escape, fit_footer, safe_url, shorten
from index import SourceInfo, capped_list

HELP_TEXT = (
    "I answer questions about my documents by **quoting them word for word**, with the "
    "document, paragraph and a relevance score. I never write an answer myself, so nothing "
    "is made up; if the documents don't say, I tell you.\n\n"
    "`/ask question` — quotes that answer, the answering sentence in bold\n"
    "`/summary [document] [topic] [length]` — the key sentences, in document order\n"
    "`/relations [person] [document]` — who spoke with whom: a picture and the quotes\n"
    "`/sources` — the documents I can quote\n"
    "`/docs add|list|remove|reindex|gaps` — this server's own documents, and what they could "
    "not answer (all but listing need **Manage Server**)\n"
    "`/autoanswer on|off|list` — answer questions in a channel or forum without being "
    "mentioned, only when the answer is verified (**Manage Server**)\n"
    "`/help` — this message\n\n"
    "You can also mention me with a question, or send me a direct message. On any message, "
    "**Apps → Ask Verbatim** asks its text, and **Apps → Find sources** quotes what bears on it."
)


def sources_embeds(sources: list[SourceInfo], skipped: list[str]) -> list[discord.Embed]:
    """List the documents, one field each (up to Discord's 25), with their paragraph counts."""
    embed = discord.Embed(title="Sources", colour=COLOUR)
    if not sources:
        embed.description = "No documents are indexed yet."
    shown = sources[: FIELDS_LIMIT - 1] if len(sources) > FIELDS_LIMIT else sources
    for source in shown:
        value = f"`{escape(source.document)}` · {source.paragraphs} paragraphs"
        url = safe_url(source.source_url)
        if url:
            value += f"\n<{url}>"
        embed.add_field(
            name=shorten(escape(source.title), 256), value=shorten(value, 1024), inline=False
        )
    if len(sources) > len(shown):
        embed.add_field(
            name="…", value=f"and {len(sources) - len(shown)} more documents", inline=False
        )
    if skipped:
        embed.set_footer(
            text=fit_footer("Skipped (unreadable): " + capped_list(skipped, budget=1800))
        )
    return [embed]


def help_embeds() -> list[discord.Embed]:
    """Explain what the bot does and how to use it."""
    return [discord.Embed(title="Verbatim", description=HELP_TEXT, colour=COLOUR)]


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
    """Add the info cog (discord.py's extension entry point)."""
    await bot.add_cog(InfoCog(bot))
