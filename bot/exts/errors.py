"""Friendly, private replies for things that go wrong in a command."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui import NO_PINGS
from index import DatabaseUnavailable

log = logging.getLogger(__name__)


DATABASE_DOWN = "The document store can't be reached right now. Please try again in a moment."
OUT_OF_DATE = (
    "This command is out of date; ask an admin to restart the bot so Discord gets the "
    "current commands."
)


def slow_down(retry_after: float) -> str:
    """Return the message for a user who is asking faster than the cooldown allows."""
    return f"Slow down a little: try again in {retry_after:.0f} s."


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Send an ephemeral message, whether or not the interaction was already answered."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


async def on_command_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """Tell the user what happened without exposing internals."""
    if _token_was_rejected(interaction, error):
        return  # the client has said why and is closing; every reply would fail the same way
    if isinstance(error, app_commands.CommandOnCooldown):
        text = slow_down(error.retry_after)
    elif isinstance(error, app_commands.CheckFailure):
        text = "You can't use that command here."
    elif isinstance(error, app_commands.CommandNotFound):
        # Discord still offers a command this version no longer has, until commands are synced.
        log.info("Told a user that the command /%s is out of date", error.name)
        text = OUT_OF_DATE
    elif isinstance(getattr(error, "original", None), DatabaseUnavailable):
        # The pool replaces the lost connection, so the user's next try is likely to work.
        name = interaction.command and interaction.command.name
        log.warning("Command /%s: %s", name, getattr(error, "original", error))
        text = DATABASE_DOWN
    else:
        log.error(
            "Command %s failed", interaction.command and interaction.command.name, exc_info=error
        )
        text = "Sorry, something went wrong while answering. Please try again."
    try:
        await reply_privately(interaction, text)
    except discord.HTTPException:
        log.warning("Could not report an error to the user")


def _token_was_rejected(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> bool:
    """Return whether the command failed because Discord no longer accepts the bot's token."""
    original = getattr(error, "original", error)
    return (
        getattr(interaction.client, "token_rejected", False)
        and isinstance(original, discord.HTTPException)
        and original.status == 401
    )


async def setup(bot: commands.Bot) -> None:
    """Route every slash command's errors to on_command_error (the extension entry point)."""
    bot.tree.error(on_command_error)
