"""Two `python -m bot run` processes, shards 0 and 1 of 2, against one fake Discord."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import FAKE_TOKEN, ROOT
from tests.e2e.test_discord_e2e import callback_for, followup_for, new_user, option, reply_to
from tests.e2e.test_discord_e2e import text_of as text_in
from tests.support.discord_spec import load_validator
from tests.support.fake_discord import (
    ADMIN_PERMISSIONS,
    APP_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    FakeDiscord,
    shard_for,
)
from tests.support.timing import WAIT_SECONDS

COMMANDS = f"/applications/{APP_ID}/commands"
LIGHTHOUSE = (
    "The Karvik lighthouse was built in 1874 on the northern cape.\n\n"
    "Its keeper, Amara Okafor, climbed 212 steps every evening to light the lamp."
)


@dataclass
class ShardProcess:
    """One bot process and the shards it runs."""

    name: str
    process: asyncio.subprocess.Process
    output: Path

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    async def stop(self) -> int:
        """Stop the process with SIGTERM, as Docker does; return its exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), WAIT_SECONDS)


async def start_shard(
    fake: FakeDiscord, folder: Path, name: str, shard_ids: str, **extra: str
) -> ShardProcess:
    """Start `python -m bot run` with DISCORD_SHARD_COUNT=2 and the given shard ids."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DISCORD_TOKEN=FAKE_TOKEN,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DISCORD_HEALTH_FILE=str(folder / f"health-{name}"),
        DISCORD_SHARD_COUNT="2",
        DISCORD_SHARD_IDS=shard_ids,
        VERBATIM_DATA_DIR=str(folder),
        # Both may start at once on one index: the second waits for the first one's writes.
        VERBATIM_LOCK_TIMEOUT="600",
        **extra,
    )
    output = folder / f"{name}.log"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=folder, env=env, stdout=sink, stderr=sink
        )
    return ShardProcess(name, process, output)


@pytest_asyncio.fixture(loop_scope="session")
async def fake() -> AsyncIterator[FakeDiscord]:
    # Discord's own rule for the test servers: both are on shard 1 of 2, DMs on shard 0.
    assert shard_for(GUILD_ID, 2) == 1
    discord = FakeDiscord(load_validator(), heartbeat_interval_ms=500)
    await discord.start()
    try:
        yield discord
    finally:
        await discord.stop()


async def start_worker(folder: Path, **extra: str) -> ShardProcess:
    """Start `python -m bot worker`, which does /docs jobs and nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), VERBATIM_DATA_DIR=str(folder), **extra)
    output = folder / "worker.log"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "worker", cwd=folder, env=env, stdout=sink, stderr=sink
        )
    return ShardProcess("worker", process, output)


async def stopped(*processes: ShardProcess) -> None:
    """Stop every process still running (a failed test must not leave one behind)."""
    for shard in processes:
        if shard.process.returncode is None:
            shard.process.kill()
            await shard.process.wait()


async def ask(fake: FakeDiscord, question: str, **kwargs: Any) -> str:
    """Ask with /ask in a server and return the text of the answer."""
    payload = fake.interaction("ask", [option("question", question)], user=new_user(), **kwargs)
    await fake.dispatch("INTERACTION_CREATE", payload)
    return text_in((await fake.wait_for(followup_for(payload)))[0].body)


async def test_two_shard_processes_split_the_gateway(fake: FakeDiscord, tmp_path: Path) -> None:
    # One host on files: both processes share the data folder, and so its IDENTIFY locks.
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    first = await start_shard(fake, tmp_path, "a", "0")
    second = await start_shard(fake, tmp_path, "b", "1")
    try:
        await fake.wait_for_identify(0)
        await fake.wait_for_identify(1)
        assert sorted((shard, count) for shard, count, _ in fake.identifies) == [(0, 2), (1, 2)]
        # max_concurrency is 1: the second IDENTIFY waited out the first one's 5 s window.
        (*_, one), (*_, other) = fake.identifies
        assert abs(one - other) >= 4.5
        await fake.wait_for(lambda r: r.method == "PUT" and r.path == COMMANDS)

        # The server's events go to shard 1 only: process B answers.
        answer = await ask(fake, "Who is Ben Wallace?")
        assert "defense secretary of the United Kingdom" in answer
        assert ("INTERACTION_CREATE", 1) in fake.deliveries
        # DMs go to shard 0 only: process A answers.
        message = fake.message("Who is Jens Stoltenberg?", mentions_bot=False, dm=True)
        await fake.dispatch("MESSAGE_CREATE", message)
        reply = (await fake.wait_for(reply_to(message)))[0]
        assert reply.path == f"/channels/{DM_CHANNEL_ID}/messages"
        assert "the chairman of NATO" in text_in(reply.body)
        routed = [item for item in fake.deliveries if item[0] != "READY"]
        assert ("MESSAGE_CREATE", 0) in routed and ("MESSAGE_CREATE", 1) not in routed
        assert ("INTERACTION_CREATE", 0) not in routed
        # Autocomplete in the server: process B, from the document list.
        focused = [{"name": "document", "type": 3, "value": "", "focused": True}]
        payload = fake.interaction("summary", focused, user=new_user(), kind=4)
        await fake.dispatch("INTERACTION_CREATE", payload)
        choices = (await fake.wait_for(callback_for(payload)))[0].body["data"]["choices"]
        assert choices and all(choice["name"] for choice in choices)

        assert await first.stop() == 0, first.log()
        assert await second.stop() == 0, second.log()
    finally:
        await stopped(first, second)
    # Only shard 0's process synced the commands, once.
    assert len([r for r in fake.requests if r.method == "PUT" and r.path == COMMANDS]) == 1
    assert "Synced " in first.log() and "Synced " not in second.log()
    assert "Not syncing commands" in second.log()
    for shard in (first, second):
        assert FAKE_TOKEN not in shard.log() and " ERROR " not in shard.log(), shard.log()
    assert fake.spec_errors == [] and fake.event_errors == []


async def test_sync_sends_the_commands_and_exits(fake: FakeDiscord, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DISCORD_TOKEN=FAKE_TOKEN,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_HEALTH_FILE=str(tmp_path / "health"),
        DISCORD_DEV_GUILD_ID=GUILD_ID,
        # A process without shard 0 never syncs, but the step syncs whatever shards are set.
        DISCORD_SHARD_COUNT="2",
        DISCORD_SHARD_IDS="1",
        VERBATIM_DATA_DIR=str(tmp_path),
    )
    (tmp_path / "health").write_text("")  # a serving bot's on this host: left alone
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sync",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), WAIT_SECONDS)
    text = output.decode()
    assert process.returncode == 0, text
    puts = [r for r in fake.requests if r.method == "PUT"]
    assert [r.path for r in puts] == [f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"]
    names = sorted(command["name"] for command in puts[0].body)
    assert {"ask", "docs", "summary", "relations"} <= set(names)
    assert f"Synced {len(puts[0].body)} commands to guild {GUILD_ID}" in text
    assert fake.gateway_log == []  # REST only: no gateway session was started
    assert not (tmp_path / "index").exists()  # nor an index built
    assert (tmp_path / "health").exists()
    assert FAKE_TOKEN not in text and fake.spec_errors == []


async def test_shard_processes_on_one_database_take_turns_through_it(
    fake: FakeDiscord, tmp_path: Path, database_url: str
) -> None:
    # Two hosts in effect: separate data folders, one Postgres for the index and the locks.
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    database = {
        "VERBATIM_DATABASE_URL": database_url,
        "VERBATIM_CORPUS_DIR": str(tmp_path / "corpus"),
    }
    first = await start_shard(fake, folders[0], "a", "0", **database)
    second = await start_shard(fake, folders[1], "b", "1", **database)
    try:
        await fake.wait_for_identify(0)
        await fake.wait_for_identify(1)
        # No shared folder: only the database's advisory lock spaced the IDENTIFYs out.
        (*_, one), (*_, other) = fake.identifies
        assert abs(one - other) >= 4.5
        assert "defense secretary of the United Kingdom" in await ask(fake, "Who is Ben Wallace?")
        message = fake.message("Who is Jens Stoltenberg?", mentions_bot=False, dm=True)
        await fake.dispatch("MESSAGE_CREATE", message)
        reply = (await fake.wait_for(reply_to(message)))[0]
        assert "the chairman of NATO" in text_in(reply.body)
        assert await first.stop() == 0, first.log()
        assert await second.stop() == 0, second.log()
    finally:
        await stopped(first, second)
    for folder, shard in zip(folders, (first, second), strict=True):
        assert not (folder / "locks").exists() and not (folder / ".verbatim-index").exists()
        assert database_url not in shard.log() and " ERROR " not in shard.log(), shard.log()
    assert len([r for r in fake.requests if r.method == "PUT" and r.path == COMMANDS]) == 1


async def test_a_document_added_through_one_process_is_quoted_by_the_other(
    fake: FakeDiscord, tmp_path: Path, database_url: str
) -> None:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    folders = [tmp_path / "a", tmp_path / "b", tmp_path / "w"]
    for folder in folders:
        folder.mkdir()
    database = {
        "VERBATIM_DATABASE_URL": database_url,
        "VERBATIM_CORPUS_DIR": str(tmp_path / "corpus"),
    }
    # The shard processes only answer; the worker, on a host of its own, does the indexing.
    first = await start_shard(fake, folders[0], "a", "0", VERBATIM_JOBS_IN_BOT="false", **database)
    second = await start_shard(fake, folders[1], "b", "1", VERBATIM_JOBS_IN_BOT="false", **database)
    worker = await start_worker(folders[2], VERBATIM_JOBS_POLL_SECONDS="0.2", **database)
    try:
        await fake.wait_for_identify(0)
        await fake.wait_for_identify(1)
        await fake.wait_for(lambda r: r.method == "PUT" and r.path == COMMANDS)
        # Sent to process A, as after a resharding that moved the server to another shard:
        # its documents must follow it, so they live in the database, not in a process.
        attachment = fake.attachment("karvik.txt", LIGHTHOUSE.encode())
        command = [{"name": "add", "type": 1, "options": [option("file", attachment["id"], 11)]}]
        payload = fake.interaction(
            "docs",
            command,
            user=new_user(),
            permissions=ADMIN_PERMISSIONS,
            resolved={"attachments": {attachment["id"]: attachment}},
        )
        await fake.dispatch("INTERACTION_CREATE", payload, shard=0)
        path = f"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
        await fake.wait_for(
            lambda r: r.path == path and "Added" in str((r.body or {}).get("content"))
        )
        assert ("INTERACTION_CREATE", 0) in fake.deliveries
        delivered = fake.deliveries.count(("INTERACTION_CREATE", 1))
        answer = await ask(fake, "How many steps did Amara Okafor climb every evening?")
        assert "212 steps" in answer
        # The question went to shard 1, so process B quoted what process A was sent.
        assert fake.deliveries.count(("INTERACTION_CREATE", 1)) == delivered + 1
        # Another server (on shard 0, process A's) never sees it.
        other = str(int(GUILD_ID) + (1 << 22))
        elsewhere = await ask(
            fake, "How many steps did Amara Okafor climb every evening?", guild_id=other
        )
        assert "212 steps" not in elsewhere
        assert not any(folder.joinpath("index").exists() for folder in folders)
        assert not any(folder.joinpath("guilds").exists() for folder in folders)
        assert await first.stop() == 0, first.log()
        assert await second.stop() == 0, second.log()
        assert await worker.stop() == 0, worker.log()
        assert "karvik" in worker.log().lower(), worker.log()
    finally:
        await stopped(first, second, worker)


async def test_an_event_that_cannot_be_read_resumes_its_own_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import discord
    import yarl

    from bot.client import ShardedVerbatimBot
    from bot.settings import DiscordSettings
    from tests.conftest import one_text_engine

    fake = FakeDiscord(load_validator(), heartbeat_interval_ms=500)
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    # The IDENTIFY lock files go to the data folder: this test's, not the checkout.
    monkeypatch.setenv("VERBATIM_DATA_DIR", str(tmp_path))
    engine = one_text_engine(tmp_path, "karvik.txt", LIGHTHOUSE)
    settings = DiscordSettings(
        token=FAKE_TOKEN,
        feedback_file=tmp_path / "feedback.jsonl",
        health_file=tmp_path / "health",
        shard_count=2,
        shard_ids="0,1",
    )
    bot = ShardedVerbatimBot(engine, settings)
    task = asyncio.create_task(bot.start(FAKE_TOKEN))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), WAIT_SECONDS)
        # Servers this bot has not cached, one on each shard: discord.py cannot build their
        # channel without its position, so the event cannot be read.
        for guild, shard in (("900000000004194306", 0), ("900000000000000999", 1)):
            assert shard_for(guild, 2) == shard
            broken = fake.interaction("ask", [option("question", "Who?")], guild_id=guild)
            del broken["channel"]["position"]
            await fake.dispatch("INTERACTION_CREATE", broken, check=False)
            await fake.wait_for_gateway("RESUME", shard + 1)
            assert fake.resumed == list(range(shard + 1))  # that shard's connection, alone
        await fake.settle()
        answer = await ask(fake, "How many steps did Amara Okafor climb every evening?")
        assert "212 steps" in answer
        assert not bot.is_closed()
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert (tmp_path / "locks" / "identify-0.lock").is_file()
    finally:
        await bot.close()
        await asyncio.wait_for(task, WAIT_SECONDS)
        await fake.stop()
