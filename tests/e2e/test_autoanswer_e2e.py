"""Auto-answer channels end to end: a real discord.py bot that speaks unasked only when sure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio

from index import Engine
from tests.conftest import FAKE_TOKEN
from tests.e2e.test_channel_source_e2e import new_channel
from tests.e2e.test_discord_e2e import NO_PINGS, new_user, option, reply_to, text_of
from tests.e2e.test_discord_faults import started_fake
from tests.support.fake_discord import (
    ADMIN_PERMISSIONS,
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    GUILD_ID,
    MESSAGE_CONTENT_INTENT,
    MESSAGE_CONTENT_LIMITED_FLAG,
    FakeDiscord,
    Recorded,
)
from tests.support.timing import WAIT_SECONDS

CLEAR = "Who is the chairman of NATO?"
NEAR_MISS = "What did Emmanuel Macron say about the accusation?"


class Decisions:
    """What auto-answer did with each message, as the bot reports it (its own event)."""

    def __init__(self) -> None:
        self.outcomes: dict[int, list[str]] = {}
        self.changed = asyncio.Condition()

    async def record(self, message: Any, outcome: str) -> None:
        async with self.changed:
            self.outcomes.setdefault(message.id, []).append(outcome)
            self.changed.notify_all()

    async def of(self, message: dict[str, Any], count: int = 1) -> list[str]:
        """Wait until the message has been decided on `count` times; return the outcomes."""

        async def decided() -> list[str]:
            async with self.changed:
                while len(self.outcomes.get(int(message["id"]), [])) < count:
                    await self.changed.wait()
                return self.outcomes[int(message["id"])]

        return await asyncio.wait_for(decided(), WAIT_SECONDS)


@pytest_asyncio.fixture(loop_scope="session")
async def auto(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[SimpleNamespace]:
    """A bot of its own on a fake Discord whose portal grants Message Content (or not)."""
    from bot.client import VerbatimBot
    from bot.settings import AutoAnswerSettings, DiscordSettings, DocsSettings

    flags = getattr(request, "param", MESSAGE_CONTENT_LIMITED_FLAG)
    fake = await started_fake(monkeypatch, heartbeat_interval_ms=250, app_flags=flags)
    client = VerbatimBot(
        engine,
        DiscordSettings(
            token=FAKE_TOKEN,
            feedback_file=tmp_path / "feedback.jsonl",
            health_file=tmp_path / "health",
            cooldown_seconds=0,
        ),
        docs=DocsSettings(guilds_dir=tmp_path / "guilds"),
        autoanswer=AutoAnswerSettings(per_minute=2),
    )
    decisions = Decisions()
    client.add_listener(decisions.record, "on_autoanswer_decided")
    task = asyncio.create_task(client.start(FAKE_TOKEN))
    await asyncio.wait_for(client.wait_until_ready(), WAIT_SECONDS)
    try:
        yield SimpleNamespace(fake=fake, bot=client, decisions=decisions)
    finally:
        await client.close()
        await asyncio.wait_for(task, WAIT_SECONDS)
        await fake.stop()
        assert fake.spec_errors == []


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture):
    """Auto-answer never logs an error, whatever it declines to answer."""
    yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def autoanswer(
    fake: FakeDiscord, sub: str, *, admin: bool = True, channel: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run /autoanswer <sub> in the test channel, naming `channel` if given."""
    permissions = ADMIN_PERMISSIONS if admin else "2248473465835073"
    options, resolved = [], None
    if channel is not None:
        options = [option("channel", channel["id"], 7)]
        resolved = {"channels": {channel["id"]: fake.resolved_channel(channel, permissions)}}
    payload = fake.interaction(
        "autoanswer",
        [{"name": sub, "type": 1, "options": options}],
        user=new_user(),
        guild_id=GUILD_ID,
        permissions=permissions,
        resolved=resolved,
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload


async def private_reply(fake: FakeDiscord, payload: dict[str, Any]) -> str:
    """Wait for the text of the command's private reply (a follow-up or the first response)."""
    follow = f"/webhooks/{APP_ID}/{payload['token']}"
    callback = f"/interactions/{payload['id']}/{payload['token']}/callback"

    def answered(r: Recorded) -> bool:
        body = r.body if isinstance(r.body, dict) else {}
        said = r.path == follow or (r.path == callback and body.get("type") == 4)
        return r.method == "POST" and said

    [reply] = await fake.wait_for(answered)
    body = reply.body.get("data", reply.body)
    assert body["allowed_mentions"] == NO_PINGS and body["flags"] & 64  # private
    return str(body["content"])


async def turn_on(auto: SimpleNamespace, channel: dict[str, Any] | None = None) -> str:
    """Turn auto-answer on (in the test channel, or `channel`); wait for the new sessions."""
    identifies = auto.fake.gateway_log.count("IDENTIFY")
    said = await private_reply(auto.fake, await autoanswer(auto.fake, "on", channel=channel))
    where = channel["id"] if channel is not None else CHANNEL_ID
    assert f"Auto-answer is on in <#{where}>" in said and "90%" in said
    await auto.fake.wait_for_gateway("IDENTIFY", identifies + 1)
    await asyncio.wait_for(auto.bot.wait_until_ready(), WAIT_SECONDS)
    await auto.fake.settle()
    return said


async def post(auto: SimpleNamespace, content: str, **extra: Any) -> dict[str, Any]:
    """Post a message in the test channel without mentioning anyone; return its payload."""
    fake: FakeDiscord = auto.fake
    message = fake.message(content, mentions_bot=False, extra=extra or None)
    await fake.dispatch("MESSAGE_CREATE", message)
    return message


def replies_to(fake: FakeDiscord, message: dict[str, Any]) -> list[Recorded]:
    return [r for r in fake.requests if reply_to(message)(r)]


async def test_a_clear_question_gets_one_verified_reply_and_chatter_none(
    auto: SimpleNamespace,
) -> None:
    fake = auto.fake
    assert fake.identify_intents[-1] & MESSAGE_CONTENT_INTENT == 0  # not asked until needed
    await turn_on(auto)
    assert fake.identify_intents[-1] & MESSAGE_CONTENT_INTENT

    asked = await post(auto, f"hi all! {CLEAR} thanks")
    assert await auto.decisions.of(asked) == ["replied"]
    [reply] = replies_to(fake, asked)
    body = reply.body
    assert body["allowed_mentions"] == {"parse": [], "replied_user": False}
    shown = text_of(body)
    assert "the chairman of NATO" in shown and "/autoanswer off" in shown
    assert "automatic" in body["embeds"][-1]["footer"]["text"].casefold()
    assert body["components"], "the usual buttons come with an unasked reply"

    near = await post(auto, NEAR_MISS)
    chatter = await post(auto, "thanks, that worked for me")
    assert await auto.decisions.of(near) == ["not sure"]
    assert await auto.decisions.of(chatter) == ["no question"]
    assert replies_to(fake, near) == [] and replies_to(fake, chatter) == []


async def test_it_holds_back_where_ask_would_answer_but_the_verifier_is_not_sure(
    auto: SimpleNamespace, engine: Engine
) -> None:
    # A question /ask answers, with a best quote under the stricter auto-answer point.
    threshold = auto.bot.autoanswer_settings.threshold
    candidates = ["Who is Ukraine's defence minister?", "Who is Valery Gerasimov?"]
    answers = [engine.ask(q) for q in candidates]
    middling = [
        a.question
        for a in answers
        if a.answered and max(q.verifier or 0.0 for q in a.quotes) < threshold
    ]
    assert middling, "the article should have some question answered below the auto point"
    await turn_on(auto)
    message = await post(auto, middling[0])
    assert await auto.decisions.of(message) == ["not sure"]
    assert replies_to(auto.fake, message) == []


async def test_it_never_answers_a_bot_itself_a_mention_of_someone_or_a_reply(
    auto: SimpleNamespace,
) -> None:
    await turn_on(auto)
    other_bot = {**new_user(), "bot": True}
    someone = new_user()
    sent = [
        await post(auto, CLEAR, author=other_bot),
        await post(auto, CLEAR, author=BOT_USER),
        await post(auto, CLEAR, webhook_id="910000000000009999"),
        await post(auto, f"<@{someone['id']}> {CLEAR}", mentions=[someone]),
    ]
    for message in sent:
        assert await auto.decisions.of(message) == ["not for auto-answer"]
    assert all(replies_to(auto.fake, m) == [] for m in sent)


async def test_the_per_minute_cap_holds_and_a_replayed_message_is_not_answered_twice(
    auto: SimpleNamespace,
) -> None:
    fake = auto.fake
    await turn_on(auto)
    first, second = await post(auto, CLEAR), await post(auto, CLEAR)
    assert await auto.decisions.of(first) == ["replied"]
    assert await auto.decisions.of(second) == ["replied"]
    third = await post(auto, CLEAR)
    assert await auto.decisions.of(third) == ["over the limit"]  # per_minute=2 in this bot
    assert replies_to(fake, third) == []

    # A dropped connection is resumed, and Discord replays what the bot may have missed.
    resumes = fake.gateway_log.count("RESUME")
    await fake.drop_connections()
    await fake.wait_for_gateway("RESUME", resumes + 1)
    await fake.dispatch("MESSAGE_CREATE", first)
    assert await auto.decisions.of(first, 2) == ["replied", "over the limit"]
    assert len(replies_to(fake, first)) == 1


async def test_a_replay_within_the_budget_is_still_answered_once(auto: SimpleNamespace) -> None:
    fake = auto.fake
    await turn_on(auto)
    asked = await post(auto, CLEAR)
    assert await auto.decisions.of(asked) == ["replied"]
    # After a RESUME, with room left in the budget, only the memory of answered messages
    # stands between a replayed event and a second reply.
    resumes = fake.gateway_log.count("RESUME")
    await fake.drop_connections()
    await fake.wait_for_gateway("RESUME", resumes + 1)
    await fake.dispatch("MESSAGE_CREATE", asked)
    assert await auto.decisions.of(asked, 2) == ["replied", "already taken"]
    assert len(replies_to(fake, asked)) == 1


async def test_off_and_list_and_only_admins(auto: SimpleNamespace) -> None:
    fake = auto.fake
    refused = await private_reply(fake, await autoanswer(fake, "on", admin=False))
    assert "Manage Server" in refused
    assert "off in every channel" in await private_reply(fake, await autoanswer(fake, "list"))
    await turn_on(auto)
    listed = await private_reply(fake, await autoanswer(fake, "list"))
    assert f"<#{CHANNEL_ID}>" in listed and "by user" in listed
    assert "is now off" in await private_reply(fake, await autoanswer(fake, "off"))
    asked = await post(auto, CLEAR)
    assert await auto.decisions.of(asked) == ["not an auto-answer channel"]


@pytest.mark.parametrize("auto", [0], indirect=True)
async def test_without_the_intent_on_explains_what_to_tick(auto: SimpleNamespace) -> None:
    fake = auto.fake
    said = await private_reply(fake, await autoanswer(fake, "on"))
    assert "Message Content Intent" in said and "Developer Portal" in said
    assert fake.gateway_log.count("IDENTIFY") == 1  # no session that Discord would refuse
    assert auto.bot.states.tenants("autoanswer") == []  # and nothing turned on


async def test_in_a_forum_each_new_post_is_answered_in_its_thread_and_replies_are_not(
    auto: SimpleNamespace,
) -> None:
    fake = auto.fake
    forum = fake.forum(fake.snowflake())
    await new_channel(auto, forum)
    said = await turn_on(auto, forum)
    assert "each new post" in said

    thread = fake.forum_post(forum["id"], "NATO's chairman")
    created = asyncio.ensure_future(
        auto.bot.wait_for("thread_create", check=lambda t: t.id == int(thread["id"]))
    )
    await fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
    await asyncio.wait_for(created, WAIT_SECONDS)
    # A post's first message has the thread's id and is posted inside the thread.
    opening = fake.message(
        CLEAR, mentions_bot=False, channel_id=thread["id"], extra={"id": thread["id"]}
    )
    await fake.dispatch("MESSAGE_CREATE", opening)
    assert await auto.decisions.of(opening) == ["replied"]
    [reply] = replies_to(fake, opening)
    assert reply.path == f"/channels/{thread['id']}/messages"  # in the post, not the forum
    assert "the chairman of NATO" in text_of(reply.body)

    # A later message in the post continues a conversation: the bot does not join in unasked.
    later = fake.message(CLEAR, mentions_bot=False, channel_id=thread["id"])
    await fake.dispatch("MESSAGE_CREATE", later)
    assert await auto.decisions.of(later) == ["not an auto-answer channel"]
    assert replies_to(fake, later) == []
