"""End-to-end: /docs, context menus and threads with the real discord.py client on the fake."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from bot.exts.docs._cog import DocsCog
from bot.exts.docs._fetch import Fetcher
from index.retrieval.encoder import Vectors
from tests.e2e.conftest import DiscordRig
from tests.e2e.test_discord_e2e import (
    NO_PINGS,
    callback_for,
    followup_for,
    new_user,
    no_spec_errors,
    option,
    reply_to,
    text_of,
)
from tests.support.cogs import running_cog
from tests.support.fake_discord import (
    ADMIN_PERMISSIONS,
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    GUILD_B_ID,
    GUILD_ID,
    PRIVATE_THREAD_ID,
    THREAD_ID,
    FakeDiscord,
    Recorded,
)

__all__ = ["no_spec_errors"]  # the autouse fixture: every body checked against the spec

LIGHTHOUSE = (
    "The Karvik lighthouse was built in 1874 on the northern cape.\n\n"
    "Its keeper, Amara Okafor, climbed 212 steps every evening to light the lamp.\n\n"
    "In winter the lamp burned whale oil until the station was electrified in 1931."
)


def original_for(payload: dict[str, Any]):
    path = f"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    return lambda r: r.method == "PATCH" and r.path == path


async def docs(
    fake: FakeDiscord,
    sub: str,
    options: list[dict[str, Any]] | None = None,
    *,
    admin: bool = True,
    guild: str = GUILD_ID,
    resolved: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    kind: int = 2,
) -> dict[str, Any]:
    """Run /docs <sub> as an admin (or not) in a server."""
    command = [{"name": sub, "type": 1, "options": options or []}]
    payload = fake.interaction(
        "docs",
        command,
        user=user or new_user(),
        guild_id=guild,
        permissions=ADMIN_PERMISSIONS if admin else "2248473465835073",
        resolved=resolved,
        kind=kind,
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload


async def upload(
    fake: FakeDiscord, filename: str, data: bytes, *, size: int | None = None, **kwargs: Any
) -> dict[str, Any]:
    attachment = fake.attachment(filename, data, size=size)
    options = [option("file", attachment["id"], 11)]
    if "title" in kwargs:
        options.append(option("title", kwargs.pop("title")))
    resolved = {"attachments": {attachment["id"]: attachment}}
    return await docs(fake, "add", options, resolved=resolved, **kwargs)


async def final_edit(fake: FakeDiscord, payload: dict[str, Any], *words: str) -> str:
    """Wait for the deferred reply to be edited into a text containing one of the words."""
    edits = await fake.wait_for(
        lambda r: (
            original_for(payload)(r) and any(w in (r.body or {}).get("content", "") for w in words)
        )
    )
    content: str = edits[-1].body["content"]
    assert edits[-1].body["allowed_mentions"] == NO_PINGS
    return content


async def ask(fake: FakeDiscord, question: str, guild: str = GUILD_ID) -> str:
    payload = fake.interaction(
        "ask", [option("question", question)], user=new_user(), guild_id=guild
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    return text_of((await fake.wait_for(followup_for(payload)))[0].body)


async def test_an_upload_is_quoted_in_its_server_and_invisible_elsewhere(rig: DiscordRig) -> None:
    payload = await upload(rig.fake, "karvik.txt", LIGHTHOUSE.encode(), title="Karvik lighthouse")
    callback = (await rig.fake.wait_for(callback_for(payload)))[0]
    assert callback.body == {"type": 5, "data": {"flags": 64}}  # deferred, privately
    done = await final_edit(rig.fake, payload, "Added", "couldn't")
    assert "Added **Karvik lighthouse**" in done and "3 paragraphs" in done

    here = await ask(rig.fake, "How many steps did Amara Okafor climb every evening?")
    assert "212 steps" in here and "Karvik lighthouse" in here
    elsewhere = await ask(rig.fake, "How many steps did Amara Okafor climb?", guild=GUILD_B_ID)
    assert "212" not in elsewhere and "Karvik" not in elsewhere
    # The shared corpus is still quoted in both servers.
    assert "the chairman of NATO" in await ask(rig.fake, "Who is Jens Stoltenberg?")
    assert "the chairman of NATO" in await ask(rig.fake, "Who is Jens Stoltenberg?", GUILD_B_ID)

    audit = (rig.bot.library.folder(int(GUILD_ID)) / "audit.jsonl").read_text()
    assert '"action": "add"' in audit and payload["member"]["user"]["id"] in audit


@pytest_asyncio.fixture(loop_scope="session")
async def karvik(rig: DiscordRig) -> None:
    """Make sure the first server has its own document, whichever tests run."""
    if not any(e.title == "Karvik lighthouse" for e in rig.bot.library.entries(int(GUILD_ID))):
        payload = await upload(
            rig.fake, "karvik.txt", LIGHTHOUSE.encode(), title="Karvik lighthouse"
        )
        await final_edit(rig.fake, payload, "Added")


async def test_a_non_admin_is_refused_and_nothing_changes(rig: DiscordRig) -> None:
    before = rig.bot.library.entries(int(GUILD_ID))
    for payload in (
        await upload(rig.fake, "notes.txt", b"Some perfectly fine words to add here.", admin=False),
        await docs(rig.fake, "remove", [option("document", "anything")], admin=False),
        await docs(rig.fake, "reindex", admin=False),
    ):
        reply = (await rig.fake.wait_for(callback_for(payload)))[0].body
        assert reply["type"] == 4 and reply["data"]["flags"] & 64
        assert "Manage Server" in reply["data"]["content"]
    assert rig.bot.library.entries(int(GUILD_ID)) == before


async def test_the_docs_group_is_for_managers_by_default(rig: DiscordRig) -> None:
    put = await rig.fake.wait_for(
        lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands"
    )
    group = next(c for c in put[-1].body if c["name"] == "docs")
    assert int(group["default_member_permissions"]) == 1 << 5  # MANAGE_GUILD
    assert group["contexts"] == [0]  # servers only
    assert {o["name"] for o in group["options"]} == {"add", "remove", "list", "reindex", "gaps"}
    menus = {c["name"]: c["type"] for c in put[-1].body if c["type"] == 3}
    assert menus == {"Ask Verbatim": 3, "Find sources": 3}


BAD_UPLOADS = {
    "binary named .txt": ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary"),
    "corrupt pdf": ("paper.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 100, "damaged"),
    "script-only html": (
        "page.html",
        b"<html><head><script>" + b"steal();" * 300 + b"</script></head><body></body></html>",
        "no readable text",
    ),
}


@pytest.mark.parametrize(("name", "data", "why"), BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
async def test_bad_files_get_a_clear_private_message(
    rig: DiscordRig, name: str, data: bytes, why: str
) -> None:
    before = rig.bot.library.entries(int(GUILD_ID))
    payload = await upload(rig.fake, name, data)
    text = await final_edit(rig.fake, payload, "couldn't", "Added")
    assert why in text and "Nothing was changed" in text
    assert rig.bot.library.entries(int(GUILD_ID)) == before


async def test_a_file_over_the_limit_is_refused_before_downloading(rig: DiscordRig) -> None:
    payload = await upload(rig.fake, "huge.txt", b"tiny", size=50 * 1024 * 1024)
    reply = (await rig.fake.wait_for(callback_for(payload)))[0].body
    assert reply["type"] == 4 and reply["data"]["flags"] & 64
    assert "50.0 MB; the limit is 10 MB" in reply["data"]["content"]
    assert not [r for r in rig.fake.requests if r.path.startswith("/attachments")]  # REST only


async def test_file_and_url_together_or_neither_are_refused(rig: DiscordRig) -> None:
    payload = await docs(rig.fake, "add")
    reply = (await rig.fake.wait_for(callback_for(payload)))[0].body
    assert "one of `file`, `url` or `channel`" in reply["data"]["content"]


def docs_cog(rig: DiscordRig) -> DocsCog:
    """The running /docs cog, which holds the fetcher that a test may swap."""
    return running_cog(rig.bot, DocsCog)


@pytest.fixture
def local_fetcher(rig: DiscordRig) -> Iterator[None]:
    """Let the bot fetch from the fake's server as docs.test, the only trusted private host."""

    async def resolve(host: str, port: int) -> list[str]:
        return {"docs.test": ["127.0.0.1"], "intranet.test": ["10.1.2.3"]}[host]

    old = docs_cog(rig).fetcher
    docs_cog(rig).fetcher = Fetcher(
        resolver=resolve, allowed=(ipaddress.ip_network("127.0.0.1/32"),)
    )
    yield
    docs_cog(rig).fetcher = old


async def test_a_web_page_is_added_with_its_link(rig: DiscordRig, local_fetcher: None) -> None:
    page = (
        b"<html><head><title>Tide tables</title><script>track()</script></head><body><article>"
        b"<p>The spring tide at Porthmoor rises 6.2 metres above the chart datum.</p>"
        b"<p>Neap tides there rise only 2.1 metres.</p></article></body></html>"
    )
    rig.fake.cdn["/attachments/pages/tides.html"] = (page, "text/html")
    url = f"http://docs.test:{rig.fake.port}/attachments/pages/tides.html"
    payload = await docs(rig.fake, "add", [option("url", url)], guild=GUILD_B_ID)
    assert "Added **Tide tables**" in await final_edit(rig.fake, payload, "Added", "couldn't")
    answer = await ask(rig.fake, "How high does the spring tide at Porthmoor rise?", GUILD_B_ID)
    assert "6.2 metres" in answer and f"]({url})" in answer  # the citation links to the page
    assert "6.2 metres" not in await ask(rig.fake, "How high does the spring tide rise?")


async def test_an_added_page_is_fetched_again_when_due(
    rig: DiscordRig, local_fetcher: None
) -> None:
    def harbour(hours: str) -> bytes:
        return (
            "<html><head><title>Harbour office</title></head><body><article>"
            f"<p>The Porthmoor harbour office opens {hours} on weekdays.</p>"
            "<p>Moorings are booked at the office.</p></article></body></html>"
        ).encode()

    path = "/attachments/pages/harbour.html"
    rig.fake.cdn[path] = (harbour("from 8 to 16"), "text/html")
    url = f"http://docs.test:{rig.fake.port}{path}"
    payload = await docs(rig.fake, "add", [option("url", url), option("refresh", "daily")])
    added = await final_edit(rig.fake, payload, "Added", "couldn't")
    assert "I'll fetch the page again daily" in added

    rig.fake.cdn[path] = (harbour("from 9 to 17"), "text/html")
    cog = docs_cog(rig)
    done = await cog.refresher.run_once(datetime.now(UTC) + timedelta(days=2))
    assert "changed" in done.values()
    assert "9 to 17" in await ask(rig.fake, "When does the Porthmoor harbour office open?")

    listing = await docs(rig.fake, "list", admin=False)
    body = (await rig.fake.wait_for(followup_for(listing)))[0].body
    fields = {f["name"]: f["value"] for f in body["embeds"][0]["fields"]}
    assert "fetched " in fields["Harbour office"] and "(daily)" in fields["Harbour office"]


SSRF = {
    "loopback": "http://127.0.0.1:{port}/attachments/pages/tides.html",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "private by dns": "http://intranet.test/wiki",
}


@pytest.mark.parametrize("url", SSRF.values(), ids=SSRF.keys())
async def test_private_addresses_are_refused(rig: DiscordRig, url: str) -> None:
    # The rig's own fetcher trusts nothing private, so even the fake's 127.0.0.1 is refused.
    async def resolve(host: str, port: int) -> list[str]:
        return ["10.1.2.3"]

    docs_cog(rig).fetcher = Fetcher(resolver=resolve)
    payload = await docs(rig.fake, "add", [option("url", url.format(port=rig.fake.port))])
    text = await final_edit(rig.fake, payload, "couldn't", "Added")
    assert "private or internal address" in text and "Nothing was changed" in text


async def test_a_redirect_to_a_private_address_is_refused(
    rig: DiscordRig, local_fetcher: None
) -> None:
    rig.fake.redirects["/attachments/pages/moved"] = "http://intranet.test/secret"
    url = f"http://docs.test:{rig.fake.port}/attachments/pages/moved"
    payload = await docs(rig.fake, "add", [option("url", url)])
    text = await final_edit(rig.fake, payload, "couldn't", "Added")
    assert "private or internal address" in text


class GatedEncoder:
    """Hold every embedding until the test opens the gate."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.model_id, self.dimension = inner.model_id, inner.dimension
        self.units = inner.units

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        assert self.gate.wait(60)
        result: Vectors = self.inner.encode(texts)
        return result


async def test_questions_are_answered_while_a_reindex_runs(rig: DiscordRig, karvik: None) -> None:
    engine = rig.bot.library.engine_for(int(GUILD_ID))
    assert engine is not rig.bot.library.shared  # the server has its own documents by now
    gated = GatedEncoder(engine.encoder)
    engine.encoder = gated
    try:
        text = "The Orrin ferry crosses the strait in forty minutes.\n\nIt sails hourly."
        payload = await upload(rig.fake, "ferry.txt", text.encode())
        progress = await final_edit(rig.fake, payload, "Embedding: 0/")
        assert "sentence windows (0%)…" in progress
        # Indexing is stuck in the gate; the old index still answers, at once.
        answer = await ask(rig.fake, "How many steps did Amara Okafor climb every evening?")
        assert "212 steps" in answer
        assert "forty minutes" not in await ask(rig.fake, "How long does the Orrin ferry take?")
        assert not [
            r
            for r in rig.fake.requests
            if original_for(payload)(r) and "Added" in r.body.get("content", "")
        ]
    finally:
        gated.gate.set()
        engine.encoder = gated.inner
    assert "Added" in await final_edit(rig.fake, payload, "Added", "couldn't")
    assert "forty minutes" in await ask(rig.fake, "How long does the Orrin ferry take to cross?")


async def test_two_admins_adding_the_same_file_at_once(rig: DiscordRig) -> None:
    data = b"The Velden bakery opens at five in the morning.\n\nIts rye bread sells out by nine."
    first, second = await asyncio.gather(
        upload(rig.fake, "bakery.txt", data), upload(rig.fake, "bakery-copy.txt", data)
    )
    texts = sorted([await final_edit(rig.fake, p, "Added", "couldn't") for p in (first, second)])
    assert texts[0].startswith("Added") and "already here" in texts[1]
    assert (
        sum(e.sha256 != "" and "bakery" in e.doc_id for e in rig.bot.library.entries(int(GUILD_ID)))
        == 1
    )


async def test_list_autocomplete_and_remove(rig: DiscordRig) -> None:
    data = b"The Marlow choir rehearses on Thursdays in the old chapel on Quay Street."
    payload = await upload(rig.fake, "choir.txt", data, title="Marlow choir")
    await final_edit(rig.fake, payload, "Added")
    assert "Quay Street" in await ask(rig.fake, "Where does the Marlow choir rehearse?")

    listing = await docs(rig.fake, "list", admin=False)
    body = (await rig.fake.wait_for(followup_for(listing)))[0].body
    assert body["flags"] & 64 and body["allowed_mentions"] == NO_PINGS
    fields = {f["name"]: f["value"] for f in body["embeds"][0]["fields"]}
    assert "1 paragraphs" in fields["Marlow choir"] and "added by user" in fields["Marlow choir"]

    typed = [{"name": "document", "type": 3, "value": "marl", "focused": True}]
    complete = await docs(rig.fake, "remove", typed, kind=4)
    choices = (await rig.fake.wait_for(callback_for(complete)))[0].body
    assert choices["type"] == 8
    [choice] = choices["data"]["choices"]
    assert choice["name"] == "Marlow choir"

    removal = await docs(rig.fake, "remove", [option("document", choice["value"])])
    assert "Removed **Marlow choir**" in await final_edit(rig.fake, removal, "Removed", "Nothing")
    assert "Quay Street" not in await ask(rig.fake, "Where does the Marlow choir rehearse?")


async def test_reindex_reports_what_it_did(rig: DiscordRig) -> None:
    payload = await docs(rig.fake, "reindex")
    text = await final_edit(rig.fake, payload, "Re-indexed")
    assert "embedded 0" in text and "removed 0" in text


async def test_ask_verbatim_on_a_message_answers_privately(rig: DiscordRig) -> None:
    target = rig.fake.message("Who is Ben Wallace?", mentions_bot=False)
    payload = rig.fake.context_menu("Ask Verbatim", target, user=new_user())
    await rig.fake.dispatch("INTERACTION_CREATE", payload)
    assert (await rig.fake.wait_for(callback_for(payload)))[0].body == {
        "type": 5,
        "data": {"flags": 64},
    }
    body = (await rig.fake.wait_for(followup_for(payload)))[0].body
    assert body["flags"] & 64 and "the defense secretary of the United Kingdom" in text_of(body)


async def test_find_sources_quotes_what_bears_on_a_claim_or_says_none(rig: DiscordRig) -> None:
    claim = rig.fake.message(
        "Stoltenberg said he had spoken with Lloyd Austin.", mentions_bot=False
    )
    payload = rig.fake.context_menu("Find sources", claim, user=new_user())
    await rig.fake.dispatch("INTERACTION_CREATE", payload)
    body = (await rig.fake.wait_for(followup_for(payload)))[0].body
    assert body["flags"] & 64 and "Sources for" in text_of(body)
    assert "Jens Stoltenberg, the chairman of NATO" in text_of(body)

    moon = rig.fake.message("The moon is made of green cheese.", mentions_bot=False)
    payload = rig.fake.context_menu("Find sources", moon, user=new_user())
    await rig.fake.dispatch("INTERACTION_CREATE", payload)
    body = (await rig.fake.wait_for(followup_for(payload)))[0].body
    assert "don't cover that claim" in text_of(body)


@pytest.mark.parametrize("thread", [THREAD_ID, PRIVATE_THREAD_ID], ids=["public", "private"])
async def test_a_mention_in_a_thread_is_answered_in_the_thread(
    rig: DiscordRig, thread: str
) -> None:
    rig.bot.docs_settings.reply_in_thread = True  # already in a thread: no new one is opened
    try:
        message = rig.fake.message(
            f"<@{BOT_USER['id']}> Who is Ben Wallace?",
            channel_id=thread,
            extra={"author": new_user()},  # mentions are rate-limited per user
        )
        await rig.fake.dispatch("MESSAGE_CREATE", message)
        reply = (await rig.fake.wait_for(reply_to(message)))[0]
    finally:
        rig.bot.docs_settings.reply_in_thread = False
    assert reply.path == f"/channels/{thread}/messages"
    assert not [r for r in rig.fake.requests if r.path.endswith(f"/{message['id']}/threads")]
    assert "the defense secretary of the United Kingdom" in text_of(reply.body)


async def test_reply_in_thread_opens_a_thread_per_question(rig: DiscordRig) -> None:
    rig.bot.docs_settings.reply_in_thread = True
    try:
        message = rig.fake.message(
            f"<@{BOT_USER['id']}> Who is Valery Gerasimov?", extra={"author": new_user()}
        )
        await rig.fake.dispatch("MESSAGE_CREATE", message)

        def in_thread(r: Recorded) -> bool:
            return r.method == "POST" and r.path == f"/channels/{message['id']}/messages"

        answer = (await rig.fake.wait_for(in_thread))[0]
    finally:
        rig.bot.docs_settings.reply_in_thread = False
    opened = [
        r
        for r in rig.fake.requests
        if r.path == f"/channels/{CHANNEL_ID}/messages/{message['id']}/threads"
    ]
    assert len(opened) == 1 and opened[0].body["name"] == "Who is Valery Gerasimov?"
    assert "Gerasimov" in text_of(answer.body) and answer.body["allowed_mentions"]["parse"] == []
    assert not [r for r in rig.fake.requests if reply_to(message)(r)]


async def test_a_server_at_its_limit_is_told_so(rig: DiscordRig) -> None:
    count = len(rig.bot.library.entries(int(GUILD_ID)))
    rig.bot.library.max_documents = count
    try:
        payload = await upload(
            rig.fake, "extra.txt", b"The Ostby market sells smoked fish on Fridays."
        )
        text = await final_edit(rig.fake, payload, "couldn't", "Added")
    finally:
        rig.bot.library.max_documents = 200
    assert f"already has {count} documents, the limit" in text and "/docs remove" in text
    assert len(rig.bot.library.entries(int(GUILD_ID))) == count


async def test_a_full_disk_is_reported_and_the_old_index_still_answers(
    rig: DiscordRig, monkeypatch: pytest.MonkeyPatch, karvik: None
) -> None:
    def full(path: object, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.storage.local.shelf.write_file", full)
    before = rig.bot.library.entries(int(GUILD_ID))
    payload = await upload(rig.fake, "mill.txt", b"The Hadley mill ground flour until 1952.")
    text = await final_edit(rig.fake, payload, "couldn't", "Added")
    assert "No space left on device" in text and "as they were" in text
    assert rig.bot.library.entries(int(GUILD_ID)) == before
    assert "212 steps" in await ask(
        rig.fake, "How many steps did Amara Okafor climb every evening?"
    )


def test_multipart_bodies_are_validated_against_the_spec() -> None:
    from tests.support.discord_spec import load_validator

    validator = load_validator()
    path = f"/channels/{CHANNEL_ID}/messages"
    files = {"files[0]": b"hello"}
    good = {"content": "see attached", "attachments": [{"id": 0, "filename": "a.txt"}]}
    assert validator.errors("POST", path, good, media="multipart/form-data", files=files) == []
    bad = {"content": 5, "attachments": [{"id": 0, "filename": "a.txt"}]}
    assert validator.errors("POST", path, bad, media="multipart/form-data", files=files)
    thread = f"/channels/{CHANNEL_ID}/messages/1/threads"
    assert validator.errors("POST", thread, {"name": "x" * 101})  # Discord's 100-character cap


async def test_menus_can_answer_in_public(rig: DiscordRig) -> None:
    rig.bot.docs_settings.menus_ephemeral = False
    try:
        target = rig.fake.message("Who is Jens Stoltenberg?", mentions_bot=False)
        payload = rig.fake.context_menu("Ask Verbatim", target, user=new_user())
        await rig.fake.dispatch("INTERACTION_CREATE", payload)
        assert (await rig.fake.wait_for(callback_for(payload)))[0].body == {"type": 5}
        body = (await rig.fake.wait_for(followup_for(payload)))[0].body
    finally:
        rig.bot.docs_settings.menus_ephemeral = True
    assert not body.get("flags", 0) & 64 and "the chairman of NATO" in text_of(body)


async def test_summary_autocomplete_offers_the_servers_documents(
    rig: DiscordRig, karvik: None
) -> None:
    focused = [{"name": "document", "type": 3, "value": "karvik", "focused": True}]
    for guild, expected in ((GUILD_ID, ["Karvik lighthouse"]), (GUILD_B_ID, [])):
        payload = rig.fake.interaction("summary", focused, user=new_user(), guild_id=guild, kind=4)
        await rig.fake.dispatch("INTERACTION_CREATE", payload)
        reply = (await rig.fake.wait_for(callback_for(payload)))[0].body
        assert [c["name"] for c in reply["data"]["choices"]] == expected


async def test_changes_in_two_servers_still_leave_a_thread_for_questions(
    rig: DiscordRig, karvik: None
) -> None:
    library = rig.bot.library
    engines = [library.engine_for(int(GUILD_ID)), library.open(int(GUILD_B_ID))]
    gated = GatedEncoder(engines[0].encoder)
    for engine in engines:
        engine.encoder = gated
    try:
        first = await upload(
            rig.fake, "owl.txt", b"The barn owl at Fenwick hunts over the water meadows."
        )
        second = await upload(
            rig.fake,
            "heron.txt",
            b"The grey heron at Fenwick nests in the alder carr.",
            guild=GUILD_B_ID,
        )
        await final_edit(rig.fake, first, "Embedding: 0/")  # the first holds an engine thread
        payload = rig.fake.interaction(
            "ask", [option("question", "Who is Jens Stoltenberg?")], user=new_user()
        )
        await rig.fake.dispatch("INTERACTION_CREATE", payload)
        answer = (await rig.fake.wait_for(followup_for(payload)))[0]
        assert "the chairman of NATO" in text_of(answer.body)
        assert not [
            r
            for r in rig.fake.requests
            if original_for(second)(r) and "Embedding" in r.body.get("content", "")
        ]
    finally:
        gated.gate.set()
        for engine in engines:
            engine.encoder = gated.inner
    for payload in (first, second):
        assert "Added" in await final_edit(rig.fake, payload, "Added", "couldn't")
