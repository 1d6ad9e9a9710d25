"""End-to-end: a channel made a document with /docs add channel:, and kept up to date by events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.exts.docs._cog import DocsCog
from bot.exts.docs._feed import ChannelFeed
from tests.e2e.conftest import DiscordRig
from tests.e2e.test_discord_e2e import new_user, no_spec_errors, option
from tests.e2e.test_docs_e2e import ask, docs, final_edit
from tests.support.cogs import running_cog
from tests.support.fake_discord import (
    ADMIN_PERMISSIONS,
    APP_ID,
    GUILD_ID,
    USER,
    FakeDiscord,
    Recorded,
)
from tests.support.timing import WAIT_SECONDS

__all__ = ["no_spec_errors"]  # the autouse fixture: every body checked against the spec

BEFORE = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
DURING = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WRITER = {**USER, "id": "900000000000000077", "username": "mira", "global_name": "Mira Stone"}


@pytest.fixture
def feed(rig: DiscordRig) -> Iterator[ChannelFeed]:
    """The bot's channel feed, batching for a second so that a test's burst is one batch."""
    cog = running_cog(rig.bot, ChannelFeed)
    kept, cog.batch_seconds = cog.batch_seconds, 1.0
    yield cog
    cog.batch_seconds = kept


async def new_channel(rig: DiscordRig | SimpleNamespace, channel: dict[str, Any]) -> None:
    """Create a channel in the test server and wait until the bot has it."""
    created = asyncio.ensure_future(
        rig.bot.wait_for("guild_channel_create", check=lambda c: c.id == int(channel["id"]))
    )
    await rig.fake.dispatch("CHANNEL_CREATE", channel)
    await asyncio.wait_for(created, WAIT_SECONDS)


async def add_channel(
    fake: FakeDiscord,
    channel: dict[str, Any],
    since: str | None = None,
    user: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run /docs add channel:<channel> [since] as an admin."""
    options = [option("channel", channel["id"], 7)]
    if since is not None:
        options.append(option("since", since))
    resolved = {"channels": {channel["id"]: fake.resolved_channel(channel, ADMIN_PERMISSIONS)}}
    return await docs(fake, "add", options, resolved=resolved, user=user)


def stored_texts(rig: DiscordRig) -> str:
    """Every text the server's shelf holds now, as the index reads it."""
    corpus = rig.bot.library.shelf(int(GUILD_ID)).documents()
    return "\n".join(document.text for document in corpus.documents)


def message_event(message: dict[str, Any], content: str) -> dict[str, Any]:
    """A MESSAGE_UPDATE for an edit of a message: the whole message, with its new text."""
    return {**message, "content": content, "edited_timestamp": datetime.now(UTC).isoformat()}


async def test_a_channel_is_read_back_cited_by_message_and_follows_its_changes(
    rig: DiscordRig, feed: ChannelFeed
) -> None:
    fake = rig.fake
    channel = fake.channel(fake.snowflake(), name="tea-notes")
    await new_channel(rig, channel)
    cid = channel["id"]
    fake.posted(cid, "The old kettle was made of hammered copper.", at=BEFORE)
    steeped = fake.posted(
        cid, "Green tea is steeped at eighty degrees for two minutes.", at=DURING, author=WRITER
    )
    kettle = fake.posted(cid, "The kettle is descaled every month with citric acid.", at=DURING)
    fake.posted(cid, "", at=DURING, attachments=[fake.attachment("photo.png", b"\x89PNG")])

    payload = await add_channel(fake, channel, since="2026-01-01")
    done = await final_edit(fake, payload, "Added", "couldn't", "Nothing")
    assert "Added **\\#tea-notes**" in done and "2 paragraphs" in done
    assert "keep it up to date" in done and "Message Content" not in done
    pages = [
        r for r in fake.requests if r.method == "GET" and r.path == f"/channels/{cid}/messages"
    ]
    assert pages and all(int(r.query["limit"]) <= 100 for r in pages)
    text = stored_texts(rig)
    assert "Mira Stone · 2026-03-01\nGreen tea is steeped at eighty degrees" in text
    assert "copper" not in text  # before `since`
    listed = rig.bot.get_cog("DocsCog").channels.registry  # type: ignore[union-attr]
    entry = (await listed.listed(int(GUILD_ID)))[cid]
    assert entry["since"] == "2026-01-01" and entry["kind"] == "text"

    answer = await ask(fake, "At what temperature is green tea steeped?")
    assert "eighty degrees" in answer
    assert f"https://discord.com/channels/{GUILD_ID}/{cid}/{steeped['id']}" in answer

    # A burst of posts is one batch, indexed once.
    batches = feed.batches
    for words in ("Oolong is rolled into pearls.", "Matcha is whisked.", "Sencha is steamed."):
        await fake.dispatch(
            "MESSAGE_CREATE", fake.message(words, mentions_bot=False, channel_id=cid)
        )
    await feed.wait_applied(batches + 1, WAIT_SECONDS)
    assert feed.batches == batches + 1 and not feed._flushes
    text = stored_texts(rig)
    assert all(w in text for w in ("Oolong is rolled", "Matcha is whisked", "Sencha is steamed"))

    # An edit replaces the message's text; its author and date stay.
    await fake.dispatch("MESSAGE_UPDATE", message_event(kettle, "The kettle is descaled weekly."))
    await feed.wait_applied(batches + 2, WAIT_SECONDS)
    text = stored_texts(rig)
    assert "descaled weekly" in text and "every month" not in text

    # A deleted message is gone from the index and from every stored text.
    await fake.dispatch(
        "MESSAGE_DELETE", {"id": steeped["id"], "channel_id": cid, "guild_id": GUILD_ID}
    )
    await feed.wait_applied(batches + 3, WAIT_SECONDS)
    assert "eighty" not in stored_texts(rig)
    folder = rig.bot.library.folder(int(GUILD_ID))
    assert all(b"eighty degrees" not in p.read_bytes() for p in folder.rglob("*") if p.is_file())
    answer = await ask(fake, "At what temperature is green tea steeped?")
    assert "eighty" not in answer and steeped["id"] not in answer

    # Deleted together, as a purge does.
    rest = [m.message_id for m in (await _messages(rig, cid))]
    await fake.dispatch(
        "MESSAGE_DELETE_BULK",
        {"ids": [str(i) for i in rest[:2]], "channel_id": cid, "guild_id": GUILD_ID},
    )
    await feed.wait_applied(batches + 4, WAIT_SECONDS)
    assert [m.message_id for m in await _messages(rig, cid)] == rest[2:]


async def test_a_long_channel_is_read_in_pages_and_keeps_its_newest_messages(
    rig: DiscordRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = rig.fake
    monkeypatch.setattr(rig.bot.docs_settings, "channel_max_messages", 150)
    channel = fake.channel(fake.snowflake(), name="long-log")
    await new_channel(rig, channel)
    cid = channel["id"]
    posted = [
        fake.posted(cid, f"Entry {n} of the log is numbered {n}.", at=DURING + timedelta(minutes=n))
        for n in range(230)
    ]
    payload = await add_channel(fake, channel)
    done = await final_edit(fake, payload, "Added", "couldn't", "Nothing")
    assert "newest 150 messages" in done and "VERBATIM_CHANNEL_MAX_MESSAGES" in done
    pages = [
        r for r in fake.requests if r.method == "GET" and r.path == f"/channels/{cid}/messages"
    ]
    assert len(pages) == 2 and all(int(r.query["limit"]) <= 100 for r in pages)
    # The newest 150 in order, as the live feed keeps them: nothing older, no hole.
    kept = [m.message_id for m in await _messages(rig, cid)]
    assert kept == [int(m["id"]) for m in posted[80:]]


async def _messages(rig: DiscordRig, cid: str) -> list[Any]:
    """The messages the channel's document holds now."""
    from index import read_channel_payload

    registry = rig.bot.get_cog("DocsCog").channels.registry  # type: ignore[union-attr]
    doc_id = (await registry.listed(int(GUILD_ID)))[cid]["doc_id"]
    _, data = rig.bot.library.payload(int(GUILD_ID), doc_id)
    return list(read_channel_payload(data).messages)


async def test_a_channel_the_caller_cannot_read_is_refused(rig: DiscordRig) -> None:
    fake = rig.fake
    caller = new_user()  # not the owner, who may read everything
    hidden = fake.private_channel(fake.snowflake(), readers=[APP_ID])
    await new_channel(rig, hidden)
    fake.posted(hidden["id"], "The staff meet on Thursdays to plan the rota.", at=DURING)
    payload = await add_channel(fake, hidden, user=caller)
    reply = (await fake.wait_for(_callback(payload)))[0].body["data"]
    assert "You can't read the history of" in reply["content"]
    assert reply["flags"] == 64 and reply["allowed_mentions"]["parse"] == []
    assert not any(r.path == f"/channels/{hidden['id']}/messages" for r in fake.requests)

    # Nor one the bot itself cannot read, whoever asks.
    closed = fake.private_channel(fake.snowflake(), readers=[caller["id"]], name="closed")
    await new_channel(rig, closed)
    payload = await add_channel(fake, closed, user=caller)
    reply = (await fake.wait_for(_callback(payload)))[0].body["data"]
    assert "I can't read" in reply["content"] and "Read Message History" in reply["content"]
    listed = await running_cog(rig.bot, DocsCog).channels.registry.listed(int(GUILD_ID))
    assert hidden["id"] not in listed and closed["id"] not in listed


async def test_a_bad_date_and_a_missing_intent_are_explained(rig: DiscordRig) -> None:
    fake = rig.fake
    channel = fake.channel(fake.snowflake(), name="quiet")
    await new_channel(rig, channel)
    payload = await add_channel(fake, channel, since="last week")
    reply = (await fake.wait_for(_callback(payload)))[0].body["data"]
    assert "must be a date like 2026-01-31" in reply["content"]

    # Without the Message Content intent Discord sends messages with empty text.
    fake.posted(channel["id"], "", at=DURING)
    fake.posted(channel["id"], "", at=DURING)
    payload = await add_channel(fake, channel)
    done = await final_edit(fake, payload, "Nothing was changed", "Added")
    assert "Message Content Intent" in done and "Privileged Gateway Intents" in done
    listed = await running_cog(rig.bot, DocsCog).channels.registry.listed(int(GUILD_ID))
    assert channel["id"] not in listed


def _callback(payload: dict[str, Any]) -> Callable[[Recorded], bool]:
    path = f"/interactions/{payload['id']}/{payload['token']}/callback"
    return lambda r: r.method == "POST" and r.path == path


async def test_removing_a_channel_document_stops_following_the_channel(
    rig: DiscordRig, feed: ChannelFeed
) -> None:
    fake = rig.fake
    channel = fake.channel(fake.snowflake(), name="brewing")
    await new_channel(rig, channel)
    fake.posted(channel["id"], "Pu-erh is aged for years in cool caves.", at=DURING)
    payload = await add_channel(fake, channel)
    await final_edit(fake, payload, "Added")
    registry = rig.bot.get_cog("DocsCog").channels.registry  # type: ignore[union-attr]
    doc_id = (await registry.listed(int(GUILD_ID)))[channel["id"]]["doc_id"]

    payload = await docs(fake, "remove", [option("document", doc_id)])
    await final_edit(fake, payload, "Removed")
    assert channel["id"] not in await registry.listed(int(GUILD_ID))
    assert "Pu-erh" not in stored_texts(rig)
