"""Message context menus: "Ask Verbatim" and "Find sources" on any message."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.render import ABSTAIN_COLOUR, NO_PINGS, answer_embeds, escape, quotes_embed, shorten
from bot.views import AnswerView
from index import Answer, QuestionError, clean_question

NOT_COVERED = "The documents don't cover that claim: I found no passage that bears on it."


def sources_embeds(answer: Answer) -> list[discord.Embed]:
    """Render the passages that bear on a claim, or say that none do."""
    title = shorten("Sources for: " + escape(answer.question), 256)
    if not answer.answered:
        return [discord.Embed(title=title, description=NOT_COVERED, colour=ABSTAIN_COLOUR)]
    quotes = answer.quotes + answer.more
    footer = "Passages that bear on the claim, quoted verbatim; judge for yourself."
    return [quotes_embed(title, quotes[:5], footer)]


class MenusCog(commands.Cog):
    """Right-click a message, Apps: ask about it or find sources for it."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot
        # Context menus cannot be declared inside a cog; they are added to the tree by hand.
        self.menus = [
            app_commands.ContextMenu(name="Ask Verbatim", callback=self.ask_about),
            app_commands.ContextMenu(name="Find sources", callback=self.find_sources),
        ]
        for menu in self.menus:
            bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    @property
    def _private(self) -> bool:
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
        guild_id = interaction.guild_id
        return await self.bot.run_engine(lambda: self.bot.engine_for(guild_id).ask(text))

    async def ask_about(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Answer a message's text as a question, privately."""
        answer = await self._answer(interaction, message)
        if answer is not None:
            await interaction.followup.send(
                embeds=answer_embeds(answer),
                view=AnswerView(answer, self.bot.feedback),
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
                embeds=sources_embeds(answer), ephemeral=self._private, allowed_mentions=NO_PINGS
            )


async def setup(bot: VerbatimBot) -> None:
    """Add the cog (discord.py extension entry point)."""
    await bot.add_cog(MenusCog(bot))
