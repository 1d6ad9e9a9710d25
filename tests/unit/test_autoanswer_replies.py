"""Which messages auto-answer takes up, which answers it gives, and which intents it asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import discord
import pytest

from bot.autoanswer_channels import AutoAnswerChannels
from bot.exts.autoanswer._commands import listing
from bot.exts.autoanswer._replies import answered_channel, speaks_to_the_channel
from index import Answer, EngineSettings, Highlight, Quote, open_states, sure_answer
from tests.conftest import FAKE_TOKEN

ME = 1


def _message(channel: Any, *, message_id: int = 500, **fields: Any) -> MagicMock:
    message = MagicMock(spec=discord.Message)
    author = MagicMock(id=fields.pop("author_id", 7), bot=fields.pop("bot", False))
    values = {
        "id": message_id,
        "channel": channel,
        "guild": MagicMock(id=42),
        "author": author,
        "webhook_id": None,
        "type": discord.MessageType.default,
        "mentions": [],
        "role_mentions": [],
        "mention_everyone": False,
        "reference": None,
    }
    for name, value in {**values, **fields}.items():
        setattr(message, name, value)
    return message


def _forum_post(thread_id: int) -> MagicMock:
    thread = MagicMock(spec=discord.Thread, id=thread_id)
    thread.parent = MagicMock(spec=discord.ForumChannel, id=77)
    return thread


def test_a_channel_message_and_a_forum_posts_first_message_are_taken_up() -> None:
    text = MagicMock(spec=discord.TextChannel, id=10)
    assert answered_channel(_message(text)) == 10
    post = _forum_post(600)
    assert answered_channel(_message(post, message_id=600)) == 77  # the forum's setting
    assert answered_channel(_message(post, message_id=601)) is None  # a reply in the post
    talk = MagicMock(spec=discord.Thread, id=700)
    talk.parent = text
    assert answered_channel(_message(talk, message_id=700)) is None  # a thread of a channel


@pytest.mark.parametrize(
    "fields",
    [
        {"bot": True},
        {"author_id": ME},
        {"webhook_id": 99},
        {"mentions": [MagicMock()]},
        {"role_mentions": [MagicMock()]},
        {"mention_everyone": True},
        {"reference": MagicMock()},
        {"type": discord.MessageType.pins_add},
        {"guild": None},
    ],
)
def test_only_a_members_own_words_to_the_channel_are_taken_up(fields: dict[str, Any]) -> None:
    me = MagicMock(id=ME)
    channel = MagicMock(spec=discord.TextChannel, id=10)
    assert speaks_to_the_channel(_message(channel), me)
    assert not speaks_to_the_channel(_message(channel, **fields), me)


def _quote(text: str, verifier: float | None) -> Quote:
    return Quote(
        document="a",
        title="A",
        paragraph=1,
        start=0,
        end=len(text),
        text=text,
        highlight=Highlight(0, len(text)),
        score=0.5,
        verifier=verifier,
    )


def test_only_quotes_at_the_threshold_are_given_best_first() -> None:
    quotes = [_quote("fair", 0.7), _quote("best", 0.97), _quote("sure", 0.91), _quote("?", None)]
    answer = Answer("q", True, quotes, [])
    sure = sure_answer(answer, 0.9)
    assert sure is not None and [q.text for q in sure.quotes] == ["best", "sure"]
    assert sure_answer(answer, 0.98) is None
    assert sure_answer(Answer("q", False, [], [], reason="no"), 0.0) is None


def test_the_list_escapes_who_turned_a_channel_on() -> None:
    text = listing({5: {"by": "**boss** @everyone (3)", "at": "2026-12-04T10:00:00+00:00"}}, 0.9)
    assert "<#5>" in text and "2026-12-04" in text
    assert "**boss**" not in text and "@everyone" not in text


def _bot(tmp_path: Path, **docs: Any) -> Any:
    from bot.client import VerbatimBot
    from bot.settings import DiscordSettings, DocsSettings
    from tests.unit.test_shards import one_engine

    return VerbatimBot(
        one_engine(tmp_path),
        DiscordSettings(token=FAKE_TOKEN),
        docs=DocsSettings(guilds_dir=tmp_path / "guilds", **docs),
    )


def test_message_content_is_asked_for_only_when_a_channel_or_the_setting_needs_it(
    clean_env: Path,
) -> None:
    assert not _bot(clean_env).intents.message_content
    assert _bot(clean_env, message_content=True).intents.message_content
    states = open_states(EngineSettings(data_dir=clean_env), clean_env / "guilds")
    AutoAnswerChannels(states).turn_on(42, 10, by="admin (1)")
    assert _bot(clean_env).intents.message_content
