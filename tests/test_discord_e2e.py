"""End-to-end: a real discord.py client against the fake Discord, checking what it sends."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from typing import Any

import pytest

from tests.conftest import DiscordRig
from tests.fake_discord import APP_ID, BOT_USER, CHANNEL_ID, DM_CHANNEL_ID, USER, FakeDiscord, Recorded

NO_PINGS = {"parse": []}
_users = itertools.count(920000000000000000)


def new_user() -> dict[str, Any]:
    """A distinct user, so per-user cooldowns don't couple tests."""
    uid = str(next(_users))
    return {**USER, "id": uid, "username": f"user{uid[-4:]}"}


def option(name: str, value: Any, kind: int = 3) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


def callback_for(payload: dict[str, Any]):
    path = f"/interactions/{payload['id']}/{payload['token']}/callback"
    return lambda r: r.method == "POST" and r.path == path


def followup_for(payload: dict[str, Any]):
    path = f"/webhooks/{APP_ID}/{payload['token']}"
    return lambda r: r.method == "POST" and r.path == path


def reply_to(message: dict[str, Any]):
    def matches(r: Recorded) -> bool:
        ref = (r.body or {}).get("message_reference") or {}
        return r.method == "POST" and r.path.endswith("/messages") and str(ref.get("message_id")) == message["id"]
    return matches


def text_of(body: dict[str, Any]) -> str:
    """All user-visible text of a message body."""
    message = body.get("data", body) if "type" in body and "data" in body else body
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [(embed.get("footer") or {}).get("text") or ""]
        parts += [f.get("name", "") + f.get("value", "") for f in embed.get("fields") or []]
    return "\n".join(parts)


async def slash(fake: FakeDiscord, name: str, options: list[dict[str, Any]] | None = None,
                user: dict[str, Any] | None = None) -> tuple[dict[str, Any], float]:
    payload = fake.interaction(name, options, user=user or new_user())
    sent = time.monotonic()
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload, sent


@pytest.fixture(autouse=True)
def no_spec_errors(request: pytest.FixtureRequest):
    """Every body the bot sent in a test must satisfy Discord's spec and limits."""
    yield
    if "rig" in request.fixturenames:
        rig: DiscordRig = request.getfixturevalue("rig")
        errors, rig.fake.spec_errors[:] = list(rig.fake.spec_errors), []
        assert errors == []


async def test_commands_sync_globally_with_descriptions(rig: DiscordRig) -> None:
    put = await rig.fake.wait_for(lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands")
    commands = {c["name"]: c for c in put[-1].body}
    assert set(commands) == {"ask", "summary", "sources", "help"}
    assert commands["ask"]["description"].startswith("Answer a question")
    assert commands["ask"]["options"][0]["name"] == "question"
    assert commands["ask"]["options"][0]["required"] is True
    lengths = {c["name"] for o in commands["summary"]["options"] for c in o.get("choices", [])}
    assert {"short (3 sentences)", "long (8 sentences)"} <= lengths


async def test_ask_defers_at_once_then_follows_up_with_quotes(rig: DiscordRig) -> None:
    payload, sent = await slash(rig.fake, "ask", [option("question", "Who spoke with whom?")])
    callback = (await rig.fake.wait_for(callback_for(payload)))[0]
    assert callback.body == {"type": 5}
    assert callback.query.get("with_response") in ("1", "true")
    assert callback.content_type == "application/json"
    assert callback.at - sent < 3.0
    followup = (await rig.fake.wait_for(followup_for(payload)))[0]
    assert followup.body["allowed_mentions"] == NO_PINGS
    text = text_of(followup.body)
    for name in ("Sergei Shoigu", "Mark Milley", "Tony Radakin", "Lloyd Austin"):
        assert name in text
    assert "paragraph 3" in text and "relevance" in text
    assert "**" in followup.body["embeds"][0]["description"]  # the answering sentence is bold
    labels = [c["label"] for row in followup.body["components"] for c in row["components"]]
    assert labels == ["More quotes", "Helpful", "Not helpful"]
