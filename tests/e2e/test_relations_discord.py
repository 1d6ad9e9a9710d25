"""/relations and routed /ask end to end: the PNG upload, the link list and the quote menu."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import DiscordRig
from tests.e2e.test_discord_e2e import (
    NO_PINGS,
    callback_for,
    followup_for,
    new_user,
    no_spec_errors,
    option,
    slash,
    text_of,
)
from tests.support.fake_discord import BOT_USER, Recorded

__all__ = ["no_spec_errors"]  # the autouse check of every body against Discord's spec
PNG = b"\x89PNG\r\n\x1a\n"


async def relations(rig: DiscordRig, *options: dict[str, Any]) -> tuple[Recorded, Recorded]:
    # Slow synchronous tests before this file can leave the bot's connection stale for a moment.
    await rig.fake.settle()
    # A fresh user each time: the per-user cooldown must not depend on which tests ran before.
    payload, _ = await slash(rig.fake, "relations", list(options), user=new_user())
    callback = (await rig.fake.wait_for(callback_for(payload)))[0]
    followup = (await rig.fake.wait_for(followup_for(payload)))[0]
    return callback, followup


async def press(rig: DiscordRig, message: Recorded, custom_id: str, **data: Any) -> dict[str, Any]:
    click = rig.fake.interaction("", user=new_user())
    click.update(
        type=3,
        data={"custom_id": custom_id, **data},
        message={
            **rig.fake.message(""),
            "id": message.response["id"],
            "author": BOT_USER,
            "components": message.body["components"],
        },
    )
    await rig.fake.dispatch("INTERACTION_CREATE", click)
    return click


def components(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in body["components"] for c in row["components"]]


async def test_relations_uploads_the_picture_and_lists_the_links(rig: DiscordRig) -> None:
    await relations(rig)  # the first call pays for importing matplotlib
    # The work this process does, not the wall clock: a busy machine must not fail the test.
    cpu = time.process_time()
    callback, followup = await relations(rig)
    cpu = time.process_time() - cpu
    assert callback.body == {"type": 5}
    assert followup.content_type.startswith("multipart/form-data")
    assert list(followup.files) == ["files[0]"]
    assert followup.files["files[0]"].startswith(PNG)
    body = followup.body
    assert body["allowed_mentions"] == NO_PINGS
    assert body["attachments"][0]["filename"] == "relations.png"
    embed = body["embeds"][0]
    assert embed["image"]["url"] == "attachment://relations.png"
    description = embed["description"]
    assert "Valery Gerasimov — Mark Milley (On Monday) ¶13" in description
    assert "Sergei Shoigu — Sebastien Lecornu (Sunday) ¶10" in description
    assert description.count("\n") + 1 == 9
    menu = components(body)[0]
    assert menu["type"] == 3 and len(menu["options"]) == 9
    seconds = followup.at - callback.at
    print(
        f"\n/relations on the default article, picture included: {seconds * 1000:.0f} ms "
        f"({cpu * 1000:.0f} ms of CPU)"
    )
    assert cpu < 1.0


async def test_picking_a_link_quotes_its_sentence(rig: DiscordRig) -> None:
    _, followup = await relations(rig, option("person", "Admiral Radakin"))
    description = followup.body["embeds"][0]["description"]
    assert description.count("\n") == 0 and "Tony Radakin" in description
    menu = components(followup.body)[0]
    click = await press(
        rig, followup, menu["custom_id"], component_type=3, values=[menu["options"][0]["value"]]
    )
    reply = (await rig.fake.wait_for(callback_for(click)))[0].body
    assert reply["type"] == 4 and reply["data"]["flags"] & 64
    assert "separately with Admiral Sir Tony Radakin" in text_of(reply["data"])
    assert "paragraph 13" in text_of(reply["data"])


async def test_unknown_person_gets_close_matches(rig: DiscordRig) -> None:
    _, followup = await relations(rig, option("person", "Stoltenbreg"))
    text = text_of(followup.body)
    assert "No one by that name" in text and "Jens Stoltenberg" in text
    assert not followup.files


async def test_ask_who_spoke_with_whom_lists_links_with_quotes_and_offers_the_picture(
    rig: DiscordRig,
) -> None:
    payload, _ = await slash(rig.fake, "ask", [option("question", "Who spoke with whom?")])
    assert (await rig.fake.wait_for(callback_for(payload)))[0].body == {"type": 5}
    followup = (await rig.fake.wait_for(followup_for(payload)))[0]
    text = text_of(followup.body)
    assert "Valery Gerasimov — Tony Radakin (On Monday) ¶13" in text
    assert "> On Monday, a day after the discussions" in text
    assert followup.body["allowed_mentions"] == NO_PINGS
    button = components(followup.body)[0]
    assert button["label"] == "Show picture"
    click = await press(rig, followup, button["custom_id"], component_type=2)
    assert (await rig.fake.wait_for(callback_for(click)))[0].body["type"] == 5
    picture = (await rig.fake.wait_for(followup_for(click)))[0]
    assert picture.files["files[0]"].startswith(PNG)
    assert picture.body["flags"] & 64  # only the one who asked sees it


async def test_other_questions_are_answered_as_before(rig: DiscordRig) -> None:
    payload, _ = await slash(rig.fake, "ask", [option("question", "Who is Ben Wallace?")])
    followup = (await rig.fake.wait_for(followup_for(payload)))[0]
    labels = [c["label"] for c in components(followup.body)]
    assert labels == ["More quotes", "Helpful", "Not helpful"]
    assert "relevance" in text_of(followup.body)


async def test_a_routed_mention_goes_to_its_thread_when_threads_are_on(rig: DiscordRig) -> None:
    rig.bot.docs_settings.reply_in_thread = True
    try:
        message = rig.fake.message(
            f"<@{BOT_USER['id']}> Who did Gerasimov speak with?", extra={"author": new_user()}
        )
        await rig.fake.dispatch("MESSAGE_CREATE", message)
        thread_path = f"/channels/{message['id']}/messages"
        posted = (await rig.fake.wait_for(lambda r: r.method == "POST" and r.path == thread_path))[
            0
        ]
    finally:
        rig.bot.docs_settings.reply_in_thread = False
    opened = [r for r in rig.fake.requests if r.path.endswith(f"/messages/{message['id']}/threads")]
    assert len(opened) == 1
    assert "Valery Gerasimov — Mark Milley (On Monday) ¶13" in text_of(posted.body)
    assert posted.body["allowed_mentions"] == NO_PINGS
