"""/docs with a database: the change is a job, run by the bot's thread or by a worker elsewhere."""

from __future__ import annotations

import asyncio
import importlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_asyncio

from index import Engine, EngineSettings, JobRunner
from tests.conftest import FAKE_TOKEN, ROOT, bundled_verifier
from tests.e2e.test_discord_e2e import NO_PINGS, option
from tests.e2e.test_discord_faults import started_fake
from tests.e2e.test_docs_e2e import LIGHTHOUSE, ask, docs, final_edit, original_for, upload
from tests.support.fake_discord import CHANNEL_ID, GUILD_B_ID, GUILD_ID
from tests.support.hashing_encoder import HashingEncoder
from tests.support.timing import WAIT_SECONDS


@pytest_asyncio.fixture(loop_scope="session")
async def queued(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> AsyncIterator[SimpleNamespace]:
    """A bot on a fake Discord of its own whose engine is on Postgres, so /docs makes jobs."""
    from bot.client import VerbatimBot
    from bot.settings import DiscordSettings, DocsSettings, JobsSettings

    in_bot = getattr(request, "param", True)
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    settings = EngineSettings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", database_url=database_url
    )
    engine = Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())
    fake = await started_fake(monkeypatch, heartbeat_interval_ms=250)
    client = VerbatimBot(
        engine,
        DiscordSettings(
            token=FAKE_TOKEN,
            feedback_file=tmp_path / "feedback.jsonl",
            health_file=tmp_path / "health",
        ),
        docs=DocsSettings(guilds_dir=tmp_path / "guilds", message_content=True),
        jobs=JobsSettings(in_bot=in_bot, poll_seconds=0.1),
    )
    task = asyncio.create_task(client.start(FAKE_TOKEN))
    await asyncio.wait_for(client.wait_until_ready(), WAIT_SECONDS)
    try:
        yield SimpleNamespace(fake=fake, bot=client)
    finally:
        await client.close()
        await asyncio.wait_for(task, WAIT_SECONDS)
        await fake.stop()
        assert fake.spec_errors == []


def jobs_of(bot: object) -> list[tuple[str, str, str | None]]:
    """Return (kind, state, worker) of every job, oldest first, read straight from the table."""
    import psycopg

    url = bot.engine.settings.database_url.get_secret_value()  # type: ignore[attr-defined]
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT kind, state, worker FROM jobs ORDER BY id").fetchall()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


async def test_docs_changes_run_as_jobs_in_the_bots_own_thread(queued: SimpleNamespace) -> None:
    fake, bot = queued.fake, queued.bot
    payload = await upload(fake, "karvik.txt", LIGHTHOUSE.encode(), title="Karvik lighthouse")
    done = await final_edit(fake, payload, "Added", "couldn't")
    assert "Added **Karvik lighthouse**" in done and "3 paragraphs" in done
    [(kind, state, worker)] = jobs_of(bot)
    assert (kind, state) == ("add", "done") and worker is not None and worker.startswith("bot@")

    here = await ask(fake, "How many steps did Amara Okafor climb every evening?")
    assert "212 steps" in here
    elsewhere = await ask(fake, "How many steps did Amara Okafor climb?", guild=GUILD_B_ID)
    assert "212" not in elsewhere

    again = await upload(fake, "karvik.txt", LIGHTHOUSE.encode())
    refused = await final_edit(fake, again, "Added", "couldn't")
    assert "already here" in refused and "Nothing was changed" in refused

    reindex = await docs(fake, "reindex")
    assert "embedded 0" in await final_edit(fake, reindex, "Re-indexed", "Not re-indexed")

    [entry] = bot.library.entries(int(GUILD_ID))
    missing = await docs(fake, "remove", [option("document", "no-such-doc")])
    assert "there is no document" in await final_edit(fake, missing, "Removed", "Nothing removed")
    removed = await docs(fake, "remove", [option("document", entry.doc_id)])
    assert await final_edit(fake, removed, "Removed", "Nothing") == "Removed **Karvik lighthouse**."
    assert bot.library.entries(int(GUILD_ID)) == []
    assert [k for k, _, _ in jobs_of(bot)] == ["add", "add", "reindex", "remove"]


@pytest.mark.parametrize("queued", [False], indirect=True)
async def test_with_jobs_off_in_the_bot_a_worker_elsewhere_does_the_change(
    queued: SimpleNamespace,
) -> None:
    fake, bot = queued.fake, queued.bot
    payload = await upload(fake, "karvik.txt", LIGHTHOUSE.encode(), title="Karvik lighthouse")
    waiting = await final_edit(fake, payload, "Queued")
    assert waiting == "Queued: waiting for a worker…"
    assert jobs_of(bot) == [("add", "queued", None)]
    # A worker in another process, in effect: its own runner over the same database.
    runner = JobRunner(bot.jobs, bot.library, worker="worker@elsewhere")
    job = await asyncio.to_thread(runner.run_once)
    assert job is not None and job.state == "done"
    assert "Added **Karvik lighthouse**" in await final_edit(fake, payload, "Added")


async def test_a_result_after_the_token_expired_is_posted_in_the_channel_without_pings(
    queued: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = queued.fake
    # The module the running bot loaded: discord.py imports an extension afresh for each bot.
    replies = importlib.import_module("bot.exts.docs._jobs")
    monkeypatch.setattr(replies, "TOKEN_SECONDS", 0.0)
    payload = await upload(fake, "karvik.txt", LIGHTHOUSE.encode(), title="Karvik lighthouse")
    posted = await fake.wait_for(
        lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages"
    )
    body = posted[0].body
    user = payload["member"]["user"]["id"]
    assert body["content"].startswith(
        f"<@{user}>, your `/docs` change: Added **Karvik lighthouse**"
    )
    assert body["allowed_mentions"] == NO_PINGS
    # The expired token is never used to edit the reply.
    assert not [r for r in fake.requests if original_for(payload)(r)]
