"""The per-user cooldown on the commands that run the engine, read from the settings."""

from __future__ import annotations

import discord
from discord import app_commands


def command_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """Return the cooldown DISCORD_COOLDOWN_USES per DISCORD_COOLDOWN_SECONDS, or None when off."""
    settings = getattr(interaction.client, "settings", None)
    if settings is None or settings.cooldown_seconds == 0:
        return None
    return app_commands.Cooldown(settings.cooldown_uses, settings.cooldown_seconds)
