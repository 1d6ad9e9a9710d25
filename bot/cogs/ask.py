"""/ask, and questions asked by mentioning the bot or sending it a direct message."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.cogs.errors import slow_down
from bot.cogs.relations import draw_relations
from bot.relations_render import answer_embeds as relations_answer_embeds
from bot.relations_views import PictureView
from bot.render import NO_PINGS, answer_embeds, escape, shorten
from bot.views import AnswerView
from index import Answer, QuestionError, clean_question

log = logging.getLogger(__name__)

MENTION_HINT = (
    "Ask me something about my documents, e.g. `@Verbatim who spoke with whom?` "
    "or use `/ask`. `/help` explains more."
)


def _cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    settings = getattr(interaction.client, "settings", None)
    if settings is None or settings.cooldown_seconds == 0:
        return None
    return app_commands.Cooldown(settings.cooldown_uses, settings.cooldown_seconds)


async def _reply(message: discord.Message, text: str) -> None:
    """Reply in place without pinging the author or anyone named in the text."""
    await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)


class AskCog(commands.Cog):
    """Answer questions with verbatim quotes."""

    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot
        settings = bot.settings
        self.mention_cooldown = commands.CooldownMapping.from_cooldown(
            settings.cooldown_uses, max(settings.cooldown_seconds, 1e-9), commands.BucketType.user
        )

    def _clean(self, question: str) -> str:
        return clean_question(question, max_chars=self.bot.engine.settings.max_question_chars)

    async def _answer(self, question: str, guild_id: int | None) -> Answer:
        # Finding the server's engine may load its index from disk: do it off the event loop.
        return await self.bot.run_engine(lambda: self.bot.engine_for(guild_id).ask(question))

    async def _relations(self, question: str, guild_id: int | None) -> dict[str, Any] | None:
        """Answer who spoke with whom from the server's links (issue 9); None for the rest."""
        routed = await self.bot.run_engine(
            lambda: self.bot.engine_for(guild_id).relations_for_question(question)
        )
        if routed is None:
            return None
        view = PictureView(routed, self.bot.run_engine, draw_relations)
        embeds = relations_answer_embeds(routed, question)
        return {"embeds": embeds, "view": view, "allowed_mentions": NO_PINGS}

    @app_commands.command(name="ask")
    @app_commands.describe(question="What you want to know about the documents")
    @app_commands.checks.dynamic_cooldown(_cooldown, key=lambda i: i.user.id)
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        """Answer a question with verbatim quotes from the documents."""
        try:
            cleaned = self._clean(question)
        except QuestionError as error:
            await interaction.response.send_message(escape(str(error)), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        routed = await self._relations(cleaned, interaction.guild_id)
        if routed is not None:
            await interaction.followup.send(**routed)
            return
        answer = await self._answer(cleaned, interaction.guild_id)
        await interaction.followup.send(
            embeds=answer_embeds(answer),
            view=AnswerView(answer, self.bot.feedback),
            allowed_mentions=NO_PINGS,
        )

    def _question_in(self, message: discord.Message) -> str | None:
        """Return the question if the message is addressed to the bot, else None."""
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return None
        if message.guild is not None and me not in message.mentions:
            return None
        return re.sub(rf"<@!?{me.id}>", " ", message.content).strip()

    @commands.Cog.listener("on_message")
    async def answer_mention(self, message: discord.Message) -> None:
        """Answer a question asked by mentioning the bot or in a direct message."""
        question = self._question_in(message)
        if question is None:
            return
        if not question:
            await _reply(message, MENTION_HINT)
            return
        bucket = self.mention_cooldown.get_bucket(message)
        retry_after = (
            bucket.update_rate_limit() if bucket and self.bot.settings.cooldown_seconds else None
        )
        if retry_after:
            await _reply(message, slow_down(retry_after))
            return
        try:
            cleaned = self._clean(question)
        except QuestionError as error:
            await _reply(message, escape(str(error)))
            return
        try:
            async with message.channel.typing():
                guild_id = message.guild.id if message.guild else None
                routed = await self._relations(cleaned, guild_id)
                if routed is None:
                    answer = await self._answer(cleaned, guild_id)
        except Exception:
            log.exception("Answering a mention failed")
            await _reply(message, "Sorry, something went wrong while answering.")
            return
        thread = await self._thread_for(message, cleaned)
        if routed is not None:  # who spoke with whom: the links (issue 9)
            if thread is not None:
                await thread.send(**routed)
            else:
                await message.reply(**routed, mention_author=False)
            return
        if thread is not None:
            await thread.send(
                embeds=answer_embeds(answer),
                view=AnswerView(answer, self.bot.feedback),
                allowed_mentions=NO_PINGS,
            )
            return
        await message.reply(
            embeds=answer_embeds(answer),
            view=AnswerView(answer, self.bot.feedback),
            mention_author=False,
            allowed_mentions=NO_PINGS,
        )

    async def _thread_for(self, message: discord.Message, question: str) -> discord.Thread | None:
        """Open a thread on the question when VERBATIM_REPLY_IN_THREAD asks for one."""
        # A mention inside a thread is simply replied to there; only channel messages get one.
        if (
            not self.bot.docs_settings.reply_in_thread
            or message.guild is None
            or isinstance(message.channel, discord.Thread)
        ):
            return None
        try:
            return await message.create_thread(name=shorten(question, 100))
        except discord.HTTPException:  # no permission to create threads: answer in place
            log.warning("Could not open a thread in channel %s", message.channel.id)
            return None


async def setup(bot: VerbatimBot) -> None:
    """Add the cog (discord.py extension entry point)."""
    await bot.add_cog(AskCog(bot))
