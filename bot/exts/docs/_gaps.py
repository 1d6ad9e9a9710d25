"""/docs gaps show|clear: what this server's documents could not answer, grouped by meaning."""

from __future__ import annotations

import io

import discord
from discord import app_commands

from bot.client import VerbatimBot
from bot.ui import (
    COLOUR,
    DESCRIPTION_BUDGET,
    EMBED_TOTAL_LIMIT,
    FIELDS_LIMIT,
    NO_PINGS,
    embeds_size,
    escape,
    shorten,
)
from index import GapReport, report_for

NOT_ADMIN = (
    "Only members with the **Manage Server** permission can see or clear this server's gaps."
)
# The report shows the biggest groups; the CSV attached beside it holds every question.
SHOWN_GROUPS = 10
# Room kept under Discord's 6000 characters a message for the footer.
FOOTER_ROOM = 100
CSV_NAME = "gaps.csv"


def is_admin(interaction: discord.Interaction) -> bool:
    """Check, when the command runs, that the member may manage the server."""
    permissions = interaction.permissions
    return permissions.manage_guild or permissions.administrator


def gaps_embed(report: GapReport, *, enabled: bool) -> discord.Embed:
    """Describe the groups of unanswered questions, biggest first, with the nearest document."""
    period = f"in the last {report.days} day(s)" if report.days else "in the gap log"
    embed = discord.Embed(title="What the documents could not answer", colour=COLOUR)
    if not report.groups:
        embed.description = f"No unanswered questions {period}."
        if not enabled:
            embed.description += " The gap log is off here (VERBATIM_GAPS=off)."
        return embed
    embed.description = shorten(
        f"{report.total} unanswered question(s) {period}, in {len(report.groups)} group(s) "
        f"by meaning; the biggest first. Every question is in the attached {CSV_NAME}.",
        DESCRIPTION_BUDGET,
    )
    shown = 0
    for group in report.groups[: min(SHOWN_GROUPS, FIELDS_LIMIT - 1)]:
        examples = "\n".join(f"• {escape(shorten(q, 200))}" for q in group.examples)
        nearest = group.title or group.document
        where = f"\nNearest document: {escape(shorten(nearest, 150))}" if nearest else ""
        name = shorten(f"{group.count}× {escape(group.examples[0])}", 256)
        value = shorten(examples + where, 1024)
        if embeds_size([embed]) + len(name) + len(value) > EMBED_TOTAL_LIMIT - FOOTER_ROOM:
            break  # the rest are in the CSV
        embed.add_field(name=name, value=value, inline=False)
        shown += 1
    hidden = len(report.groups) - shown
    if hidden > 0:
        embed.set_footer(text=f"and {hidden} smaller group(s), in {CSV_NAME}")
    return embed


class GapsGroup(app_commands.Group):
    """The `gaps` subgroup of /docs: its permissions are the /docs group's (Manage Server)."""

    def __init__(self, bot: VerbatimBot, parent: app_commands.Group) -> None:
        super().__init__(
            name="gaps",
            description="What this server's documents could not answer",
            parent=parent,
        )
        self.bot = bot

    async def _admin(self, interaction: discord.Interaction) -> int | None:
        """Return the server's id if an admin ran the command there; else say no, privately."""
        if interaction.guild_id is not None and is_admin(interaction):
            return interaction.guild_id
        await interaction.response.send_message(
            NOT_ADMIN, ephemeral=True, allowed_mentions=NO_PINGS
        )
        return None

    @app_commands.command(name="show")
    @app_commands.describe(days="Only the last this many days (default: all that is kept)")
    async def show(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] | None = None
    ) -> None:
        """Show the questions the documents could not answer, grouped by meaning, with a CSV."""
        guild_id = await self._admin(interaction)
        if guild_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = self.bot

        def build() -> GapReport:
            """Read the server's log and group it, in the engine's threads."""
            return report_for(bot.gaps.for_guild(guild_id), bot.engine_for(guild_id), days=days)

        report = await bot.run_engine(build)
        files = []
        if report.gaps:
            files.append(discord.File(io.BytesIO(report.csv().encode("utf-8")), CSV_NAME))
        await interaction.followup.send(
            embed=gaps_embed(report, enabled=bot.gaps.enabled),
            files=files,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="clear")
    async def clear(self, interaction: discord.Interaction) -> None:
        """Empty this server's gap log."""
        guild_id = await self._admin(interaction)
        if guild_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        cleared = await self.bot.run_engine(lambda: self.bot.gaps.for_guild(guild_id).clear())
        await interaction.followup.send(
            f"Cleared the gap log: {cleared} question(s) removed.",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
