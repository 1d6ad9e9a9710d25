"""Who may change a server's documents, and how a member is named in the list and the audit log."""

from __future__ import annotations

import discord

from bot.ui import NO_PINGS

NOT_ADMIN = "Only members with the **Manage Server** permission can change this server's documents."


def is_admin(interaction: discord.Interaction) -> bool:
    """Check, when the command runs, that the member may manage the server."""
    permissions = interaction.permissions
    return permissions.manage_guild or permissions.administrator


async def admin_guild(interaction: discord.Interaction) -> int | None:
    """Return the server's id if an admin ran the command there; else say no, privately."""
    if interaction.guild_id is not None and is_admin(interaction):
        return interaction.guild_id
    await interaction.response.send_message(NOT_ADMIN, ephemeral=True, allowed_mentions=NO_PINGS)
    return None


def who(user: discord.abc.User) -> str:
    """Name a user for the list and the audit log: their name and id."""
    return f"{user.name} ({user.id})"
