"""Buttons under an answer: more quotes, and 👍/👎 feedback."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.exts.ask._embeds import closest_embeds, more_quotes_embeds
from bot.exts.ask._feedback import FeedbackLog
from bot.ui import NO_PINGS
from index import THUMBS_DOWN, Answer, GapLogs, StorageError

log = logging.getLogger(__name__)


class AnswerView(discord.ui.View):
    """Offer the further quotes once, and record one vote per user."""

    def __init__(
        self,
        answer: Answer,
        feedback: FeedbackLog,
        *,
        gaps: GapLogs | None = None,
        timeout: float = 900,
    ) -> None:
        super().__init__(timeout=timeout)
        self.answer = answer
        self.feedback = feedback
        self.gaps = gaps
        self.voters: set[int] = set()
        self._saving: set[int] = set()
        self.more.disabled = not answer.more
        if answer.answered or not answer.closest:
            self.remove_item(self.closest)
        if not answer.answered:
            self.remove_item(self.more)

    @discord.ui.button(label="More quotes", style=discord.ButtonStyle.secondary, emoji="📄")
    async def more(
        self, interaction: discord.Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        """Send the passages that ranked after the answer's quotes."""
        await interaction.response.send_message(
            embeds=more_quotes_embeds(self.answer), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @discord.ui.button(
        label="Closest passages (may not answer)", style=discord.ButtonStyle.secondary, emoji="🔎"
    )
    async def closest(
        self, interaction: discord.Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        """Show, to the asker alone, the passages that came nearest but were judged no answer."""
        await interaction.response.send_message(
            embeds=closest_embeds(self.answer), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @discord.ui.button(label="Helpful", style=discord.ButtonStyle.secondary, emoji="👍")
    async def helpful(
        self, interaction: discord.Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        """Record a thumbs-up."""
        await self._vote(interaction, helpful=True)

    @discord.ui.button(label="Not helpful", style=discord.ButtonStyle.secondary, emoji="👎")
    async def unhelpful(
        self, interaction: discord.Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        """Record a thumbs-down."""
        await self._vote(interaction, helpful=False)

    async def _vote(self, interaction: discord.Interaction, *, helpful: bool) -> None:
        """Save one user's vote once, or tell them why it was not saved."""
        if interaction.user.id in self.voters or interaction.user.id in self._saving:
            await interaction.response.send_message(
                "You already rated this answer.", ephemeral=True
            )
            return
        self._saving.add(interaction.user.id)  # a double click must not record two votes
        try:
            await asyncio.to_thread(
                self.feedback.record,
                self.answer,
                user_id=interaction.user.id,
                helpful=helpful,
                guild_id=interaction.guild_id,
            )
        except (OSError, StorageError) as error:
            self._saving.discard(interaction.user.id)
            log.error("Could not record feedback in %s: %s", self.feedback.path, error)
            await interaction.response.send_message(
                "Sorry, I couldn't save that. Please try again later.", ephemeral=True
            )
            return
        # Only a saved vote counts: after a failed save the user may try again.
        self.voters.add(interaction.user.id)
        self._saving.discard(interaction.user.id)
        if not helpful and self.gaps is not None:
            # The server's gap log keeps the question and its passages, never who voted.
            await asyncio.to_thread(
                self.gaps.record, interaction.guild_id, self.answer, THUMBS_DOWN
            )
        await interaction.response.send_message("Thanks for the feedback!", ephemeral=True)
