"""/ask, and questions asked by mentioning the bot or sending it a direct message."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import VerbatimBot
from bot.cooldowns import command_cooldown
from bot.exts.ask._denied import DeniedChannels
from bot.exts.ask._embeds import answer_embeds
from bot.exts.ask._feedback import FeedbackLog
from bot.exts.ask._views import AnswerView
from bot.exts.errors import DATABASE_DOWN, slow_down
from bot.exts.relations import PictureView, draw_relations
from bot.exts.relations import answer_embeds as relations_answer_embeds
from bot.ui import NO_PINGS, escape, shorten
from index import ABSTAINED, Answer, DatabaseUnavailable, QuestionError, clean_question

log = logging.getLogger(__name__)

MENTION_HINT = (
    "Ask me something about my documents, e.g. `@Verbatim who spoke with whom?` "
    "or use `/ask`. `/help` explains more."
)
SORRY = "Sorry, something went wrong while answering."
# What a reply is sent with: its embeds, its view and allowed_mentions.
Reply = dict[str, Any]


def _unanswerable(error: Exception) -> bool:
    """Return whether Discord refuses every reply: no permission, or the token was revoked."""
    return isinstance(error, discord.Forbidden) or (
        isinstance(error, discord.HTTPException) and error.status == 401
    )


async def _reply(message: discord.Message, text: str) -> None:
    """Reply in place without pinging the author or anyone named in the text."""
    await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)


def answer_and_log(bot: VerbatimBot, question: str, guild_id: int | None) -> Answer:
    """Answer from the server's documents; keep an abstention in the server's gap log."""
    answer = bot.engine_for(guild_id).ask(question)
    if not answer.answered:
        bot.gaps.record(guild_id, answer, ABSTAINED)
    return answer


class AskCog(commands.Cog):
    """Answer questions with verbatim quotes."""

    def __init__(self, bot: VerbatimBot, feedback: FeedbackLog) -> None:
        self.bot = bot
        self.feedback = feedback
        self.denied = DeniedChannels()
        settings = bot.settings
        self.mention_cooldown = commands.CooldownMapping.from_cooldown(
            settings.cooldown_uses, max(settings.cooldown_seconds, 1e-9), commands.BucketType.user
        )

    def _clean(self, question: str) -> str:
        """Tidy a question, raising QuestionError for one the engine cannot take."""
        return clean_question(question, max_chars=self.bot.engine.settings.max_question_chars)

    async def _answer(self, question: str, guild_id: int | None) -> Answer:
        """Answer a question from the server's documents, in the engine's threads."""
        # Finding the server's engine may load its index from disk: do it off the event loop.
        return await self.bot.run_engine(answer_and_log, self.bot, question, guild_id)

    async def _relations(self, question: str, guild_id: int | None) -> Reply | None:
        """Answer who spoke with whom from the server's links; None for other questions."""
        # The relations graph answers these best: every link, each with the sentence it rests on.
        routed = await self.bot.run_engine(
            lambda: self.bot.engine_for(guild_id).relations_for_question(question)
        )
        if routed is None:
            return None
        view = PictureView(routed, self.bot.run_engine, draw_relations)
        embeds = relations_answer_embeds(routed, question)
        return {"embeds": embeds, "view": view, "allowed_mentions": NO_PINGS}

    def _answer_reply(self, answer: Answer) -> Reply:
        """Build the reply for an answer: its embeds and the more-quotes and feedback buttons."""
        return {
            "embeds": answer_embeds(answer),
            "view": AnswerView(answer, self.feedback, gaps=self.bot.gaps),
            "allowed_mentions": NO_PINGS,
        }

    @app_commands.command(name="ask")
    @app_commands.describe(question="What you want to know about the documents")
    @app_commands.checks.dynamic_cooldown(command_cooldown, key=lambda i: i.user.id)
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
        await interaction.followup.send(**self._answer_reply(answer))

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
        """Answer a mention or direct message; where Discord forbids replies, log it once."""
        try:
            await self._answer_message(message)
        except discord.Forbidden as error:
            self.denied.report(message, error)

    async def _answer_message(self, message: discord.Message) -> None:
        """Answer a question asked by mentioning the bot or in a direct message."""
        question = self._question_in(message)
        if question is None:
            return
        cleaned = await self._accepted(message, question)
        if cleaned is None:
            return
        found = await self._find(message, cleaned)
        if found is None:
            return
        thread = await self._thread_for(message, cleaned)
        reply = found if isinstance(found, dict) else self._answer_reply(found)
        await self._deliver(message, thread, reply)

    async def _accepted(self, message: discord.Message, question: str) -> str | None:
        """Return the cleaned question, or reply with a hint, a slow-down or what is wrong."""
        if not question:
            await _reply(message, MENTION_HINT)
            return None
        retry_after = self._retry_after(message)
        if retry_after:
            await _reply(message, slow_down(retry_after))
            return None
        try:
            return self._clean(question)
        except QuestionError as error:
            await _reply(message, escape(str(error)))
            return None

    def _retry_after(self, message: discord.Message) -> float | None:
        """Count a mention against its author's cooldown; return the wait if they are over it."""
        bucket = self.mention_cooldown.get_bucket(message)
        return bucket.update_rate_limit() if bucket and self.bot.settings.cooldown_seconds else None

    async def _find(self, message: discord.Message, question: str) -> Answer | Reply | None:
        """Answer while showing "typing…"; on failure, say sorry and return None."""
        try:
            async with message.channel.typing():
                guild_id = message.guild.id if message.guild else None
                routed = await self._relations(question, guild_id)
                return routed if routed is not None else await self._answer(question, guild_id)
        except Exception as error:
            if _unanswerable(error) or self.bot.token_rejected or self.bot.is_closed():
                raise  # saying sorry would fail the same way
            if isinstance(error, DatabaseUnavailable):
                log.warning("Answering a mention: %s", error)
                await _reply(message, DATABASE_DOWN)
                return None
            log.exception("Answering a mention failed")
            await _reply(message, SORRY)
            return None

    async def _deliver(
        self, message: discord.Message, thread: discord.Thread | None, reply: Reply
    ) -> None:
        """Send the reply into the question's thread, or else as a reply to the message."""
        if thread is not None:
            await thread.send(**reply)
        else:
            await message.reply(**reply, mention_author=False)

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
