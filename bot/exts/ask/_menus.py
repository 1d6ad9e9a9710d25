"""Message context menus: "Ask Verbatim" and "Find sources" on any message."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.exts.ask._cog import answer_and_log
from bot.exts.ask._embeds import answer_embeds, claim_sources_embeds
from bot.exts.ask._feedback import FeedbackLog
from bot.exts.ask._views import AnswerView
from bot.ui import NO_PINGS, escape
from index import Answer, QuestionError, clean_question


class MenusCog(commands.Cog):
    """Right-click a message, Apps: ask about it or find sources for it."""

    def __init__(self, bot: VerbatimBot, feedback: FeedbackLog) -> None:
        self.bot = bot
        self.feedback = feedback
        # Context menus cannot be declared inside a cog; they are added to the tree by hand.
        self.menus = [
            app_commands.ContextMenu(name="Ask Verbatim", callback=self.ask_about),
            app_commands.ContextMenu(name="Find sources", callback=self.find_sources),
        ]
        for menu in self.menus:
            bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        """Take the context menus off the tree with the cog."""
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    @property
    def _private(self) -> bool:
        """Whether menu answers are shown to the asker alone (VERBATIM_MENUS_EPHEMERAL)."""
        return self.bot.docs_settings.menus_ephemeral

    async def _answer(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> Answer | None:
        """Answer the message's text as a question, privately; None if it has no text."""
        try:
            text = clean_question(
                message.content, max_chars=self.bot.engine.settings.max_question_chars
            )
        except QuestionError as error:
            await interaction.response.send_message(
                f"That message has no question I can use: {escape(str(error))}",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return None
        await interaction.response.defer(ephemeral=self._private, thinking=True)
        return await self.bot.run_engine(answer_and_log, self.bot, text, interaction.guild_id)

    async def ask_about(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Answer a message's text as a question, privately."""
        answer = await self._answer(interaction, message)
        if answer is not None:
            await interaction.followup.send(
                embeds=answer_embeds(answer),
                view=AnswerView(answer, self.feedback, gaps=self.bot.gaps),
                ephemeral=self._private,
                allowed_mentions=NO_PINGS,
            )

    async def find_sources(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Quote the passages that bear on a message's claim, or say none do."""
        answer = await self._answer(interaction, message)
        if answer is not None:
            await interaction.followup.send(
                embeds=claim_sources_embeds(answer),
                ephemeral=self._private,
                allowed_mentions=NO_PINGS,
            )
