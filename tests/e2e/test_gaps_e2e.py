"""End-to-end: /docs gaps show|clear with the real discord.py client on the fake Discord."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.e2e.conftest import DiscordRig
from tests.e2e.test_discord_e2e import (
    NO_PINGS,
    callback_for,
    followup_for,
    new_user,
    no_spec_errors,
    option,
    press_button,
    text_of,
)
from tests.support.fake_discord import (
    ADMIN_PERMISSIONS,
    APP_ID,
    GUILD_B_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Recorded,
)

__all__ = ["no_spec_errors"]  # the autouse fixture: every body checked against the spec

UNANSWERED = "When did Stoltenberg meet Shoigu?"
ANSWERED = "What did Russia claim about Ukraine?"


async def gaps(
    fake: FakeDiscord,
    sub: str,
    options: list[dict[str, Any]] | None = None,
    *,
    admin: bool = True,
    guild: str = GUILD_ID,
) -> dict[str, Any]:
    """Run /docs gaps <sub> in a server, as an admin or not."""
    command = [
        {"name": "gaps", "type": 2, "options": [{"name": sub, "type": 1, "options": options or []}]}
    ]
    payload = fake.interaction(
        "docs",
        command,
        user=new_user(),
        guild_id=guild,
        permissions=ADMIN_PERMISSIONS if admin else MEMBER_PERMISSIONS,
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload


async def reply(fake: FakeDiscord, payload: dict[str, Any]) -> Recorded:
    """Wait for the deferred, private reply's followup."""
    callback = (await fake.wait_for(callback_for(payload)))[0]
    assert callback.body == {"type": 5, "data": {"flags": 64}}
    followup = (await fake.wait_for(followup_for(payload)))[0]
    assert followup.body["flags"] & 64 and followup.body["allowed_mentions"] == NO_PINGS
    return followup


async def ask(fake: FakeDiscord, question: str, guild: str = GUILD_ID) -> Recorded:
    payload = fake.interaction(
        "ask", [option("question", question)], user=new_user(), guild_id=guild
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    return (await fake.wait_for(followup_for(payload)))[0]


async def test_docs_gaps_is_a_subgroup_of_docs(rig: DiscordRig) -> None:
    put = await rig.fake.wait_for(
        lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands"
    )
    docs = next(c for c in put[-1].body if c["name"] == "docs")
    group = next(o for o in docs["options"] if o["name"] == "gaps")
    assert group["type"] == 2
    assert {o["name"]: o["type"] for o in group["options"]} == {"show": 1, "clear": 1}


async def test_gaps_are_recorded_reported_isolated_and_cleared(rig: DiscordRig) -> None:
    fake = rig.fake
    path = rig.bot.library.folder(int(GUILD_ID)) / "gaps.jsonl"
    # The bot is the session's: other tests' abstentions in either server are not this test's.
    for guild in (GUILD_ID, GUILD_B_ID):
        (rig.bot.library.folder(int(guild)) / "gaps.jsonl").unlink(missing_ok=True)
    # An abstention is kept as it is answered.
    abstained = await ask(fake, UNANSWERED)
    assert "don't contain" in text_of(abstained.body)
    # A 👎 on an answer is kept when the vote is saved.
    user = new_user()
    answered = await ask(fake, ANSWERED)
    thanks = await press_button(rig, answered, "Not helpful", user)
    assert "Thanks" in thanks["data"]["content"]
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(k["kind"], k["question"]) for k in kept] == [
        ("abstained", UNANSWERED),
        ("thumbs_down", ANSWERED),
    ]
    assert user["id"] not in path.read_text()  # no user id, of the voter or the asker
    assert all(k["passages"] for k in kept)

    shown = await reply(fake, await gaps(fake, "show", [option("days", 30, 4)]))
    text = text_of(shown.body)
    assert "2 unanswered question(s) in the last 30 day(s)" in text
    assert UNANSWERED in text and "Nearest document" in text
    [(name, data)] = shown.files.items()
    assert shown.body["attachments"][0]["filename"] == "gaps.csv" and name == "files[0]"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [r["question"] for r in rows] == [UNANSWERED, ANSWERED]
    assert all(r["group"] and r["time"].endswith("Z") for r in rows)

    # The other server's report never shows them.
    elsewhere = await reply(fake, await gaps(fake, "show", guild=GUILD_B_ID))
    assert "No unanswered questions" in text_of(elsewhere.body) and not elsewhere.files
    assert UNANSWERED not in text_of(elsewhere.body)

    cleared = await reply(fake, await gaps(fake, "clear"))
    assert "2 question(s) removed" in cleared.body["content"]
    empty = await reply(fake, await gaps(fake, "show"))
    assert "No unanswered questions in the gap log" in text_of(empty.body)


async def test_gaps_are_for_admins_only(rig: DiscordRig) -> None:
    for sub in ("show", "clear"):
        payload = await gaps(rig.fake, sub, admin=False)
        refused = (await rig.fake.wait_for(callback_for(payload)))[0]
        assert refused.body["type"] == 4 and refused.body["data"]["flags"] & 64
        assert "Manage Server" in refused.body["data"]["content"]
