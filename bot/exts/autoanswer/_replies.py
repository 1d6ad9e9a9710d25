"""Reply unasked to questions in auto-answer channels, only when the verifier is sure."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.autoanswer_channels import AutoAnswerChannels
from bot.autoanswer_limits import AnsweredOnce, ChannelBudget
from bot.client import VerbatimBot
from bot.exts.ask import AnswerView, FeedbackLog, answer_and_log, answer_embeds
from bot.ui import NO_PINGS, fit_footer
from index import Answer, QuestionError, clean_question, question_in, sure_answer

log = logging.getLogger(__name__)

AUTOMATIC = (
    "Automatic reply: auto-answer is on here · an admin can turn it off with /autoanswer off"
)
# Only members' own words start a reply: not joins, pins, boosts or thread notices.
_ASKING_TYPES = (discord.MessageType.default,)


def answered_channel(message: discord.Message) -> int | None:
    """Return the auto-answer channel a message was posted to: a channel, or a forum post's."""
    channel = message.channel
    if isinstance(channel, discord.TextChannel):
        return channel.id
    # A forum post is a thread whose first message has the thread's own id.
    if (
        isinstance(channel, discord.Thread)
        and isinstance(channel.parent, discord.ForumChannel)
        and message.id == channel.id
    ):
        return channel.parent.id
    return None  # replies inside threads continue a conversation: never joined unasked


def speaks_to_the_channel(message: discord.Message, me: discord.abc.User) -> bool:
    """Return whether a member wrote this to the channel, not to someone (or to the bot)."""
    if message.guild is None or message.author.bot or message.webhook_id is not None:
        return False
    if message.author.id == me.id or message.type not in _ASKING_TYPES:
        return False
    # A mention of the bot is a question for bot.exts.ask; one of anyone else, or a reply,
    # is a conversation between members.
    return not (
        message.mentions
        or message.role_mentions
        or message.mention_everyone
        or message.reference is not None
    )


def automatic_embeds(answer: Answer) -> list[discord.Embed]:
    """Render a sure answer with a footer saying that it came unasked, and how to stop it."""
    embeds = answer_embeds(answer)
    last = embeds[-1]
    last.set_footer(text=fit_footer(f"{last.footer.text} · {AUTOMATIC}"))
    return embeds


class UnaskedReplies(commands.Cog):
    """Answer questions in auto-answer channels when the answer is verified, else stay silent."""

    def __init__(
        self, bot: VerbatimBot, feedback: FeedbackLog, channels: AutoAnswerChannels
    ) -> None:
        self.bot = bot
        self.feedback = feedback
        self.channels = channels
        self.settings = bot.autoanswer_settings
        self.budget = ChannelBudget(self.settings.per_minute)
        self.once = AnsweredOnce()
        self._refused: set[int] = set()

    @commands.Cog.listener("on_message")
    async def answer_unasked(self, message: discord.Message) -> None:
        """Reply to a question in an auto-answer channel if the documents surely answer it."""
        outcome = await self._decide(message)
        # Other extensions (and the tests) can follow what auto-answer did with each message.
        self.bot.dispatch("autoanswer_decided", message, outcome)

    async def _decide(self, message: discord.Message) -> str:
        """Reply if every condition holds; return what was done, or why nothing was."""
        me = self.bot.user
        if me is None or message.guild is None or not speaks_to_the_channel(message, me):
            return "not for auto-answer"
        channel_id = answered_channel(message)
        if channel_id is None or not await asyncio.to_thread(
            self.channels.is_on, message.guild.id, channel_id
        ):
            return "not an auto-answer channel"
        question = question_in(message.content)
        if question is None:
            return "no question"
        # Over the channel's budget the question is not even looked up: a flood costs no CPU.
        if not self.budget.room(channel_id):
            return "over the limit"
        if not self.once.first_time(message.id):  # an event replayed after a RESUME
            return "already taken"
        answer = await self._sure_answer(question, message.guild.id)
        if answer is None:
            return "not sure"
        if not self.budget.take(channel_id):
            return "over the limit"
        return await self._reply(message, answer)

    async def _sure_answer(self, question: str, guild_id: int) -> Answer | None:
        """Answer from the server's documents; return the answer only if the verifier is sure."""
        try:
            cleaned = clean_question(
                question, max_chars=self.bot.engine.settings.max_question_chars
            )
        except QuestionError:
            return None  # nobody asked the bot: a message it cannot take gets no reply
        try:
            answer = await self.bot.run_engine(answer_and_log, self.bot, cleaned, guild_id)
        except Exception as error:
            # Silence is the right failure here: nobody is waiting on an unasked reply.
            log.warning("Auto-answer could not answer in server %s: %s", guild_id, error)
            return None
        return sure_answer(answer, self.settings.threshold)

    async def _reply(self, message: discord.Message, answer: Answer) -> str:
        """Reply to the message (in a forum, inside its post), pinging nobody."""
        try:
            await message.reply(
                embeds=automatic_embeds(answer),
                view=AnswerView(answer, self.feedback, gaps=self.bot.gaps),
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )
        except discord.Forbidden:
            if message.channel.id not in self._refused:  # once a channel, not every question
                self._refused.add(message.channel.id)
                log.warning(
                    "Auto-answer may not reply in channel %s of server %s: the bot needs "
                    "Send Messages (in threads, for a forum) and Embed Links there",
                    message.channel.id,
                    message.guild.id if message.guild else "?",
                )
            return "not allowed to reply"
        return "replied"
