"""Sharding without Discord: the shard settings, IDENTIFY turns, and autocomplete's reads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.choices import document_choices
from bot.client import ShardedVerbatimBot, VerbatimBot, make_bot
from bot.identify import IdentifyGate
from bot.settings import DiscordSettings
from index import ConfigError, Engine, EngineSettings, Library, load_settings, prepare, turns_for
from tests.conftest import FAKE_TOKEN
from tests.support.hashing_encoder import HashingEncoder

TEA = b"Green tea is steeped at eighty degrees for two minutes.\n\nBlack tea needs boiling water."
SHARED = "The lighthouse keeper climbed ninety steps every evening to light the lamp."


def shard_settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> DiscordSettings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings(DiscordSettings)


# -- settings ------------------------------------------------------------------------------
def test_no_shard_settings_mean_one_plain_connection(clean_env: Path) -> None:
    settings = load_settings(DiscordSettings)
    assert settings.shard_count is None and settings.shard_ids is None
    assert not settings.sharded and settings.holds_shard_zero


@pytest.mark.parametrize(
    ("count", "ids", "expected", "zero"),
    [
        ("2", "0,1", (0, 1), True),
        ("4", " 3 , 1 ", (3, 1), False),
        ("2", "", None, True),  # blank: every shard of the count, in this process
        ("8", "0", (0,), True),
    ],
)
def test_shard_ids_are_read_comma_separated(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    count: str,
    ids: str,
    expected: tuple[int, ...] | None,
    zero: bool,
) -> None:
    settings = shard_settings(monkeypatch, DISCORD_SHARD_COUNT=count, DISCORD_SHARD_IDS=ids)
    assert settings.shard_count == int(count) and settings.shard_ids == expected
    assert settings.sharded and settings.holds_shard_zero is zero


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_IDS: Value error, needs DISCORD_SHARD_COUNT"),
        (
            {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "1,1"},
            "DISCORD_SHARD_IDS: Value error, lists a shard twice (1,1)",
        ),
        (
            {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0,2"},
            "DISCORD_SHARD_IDS: Value error, shard 2 does not exist with DISCORD_SHARD_COUNT=2",
        ),
        (
            {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0;1"},
            "DISCORD_SHARD_IDS: Value error, '0;1' is not a comma-separated list",
        ),
        ({"DISCORD_SHARD_COUNT": "0"}, "DISCORD_SHARD_COUNT: Input should be greater than"),
        # A bad count is named once, not again as a missing count for the ids.
        ({"DISCORD_SHARD_COUNT": "two", "DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_COUNT: Input"),
    ],
)
def test_bad_shard_settings_get_one_line_naming_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        shard_settings(monkeypatch, **variables)
    lines = str(raised.value).splitlines()[1:]
    assert len(lines) == 1 and lines[0].strip().startswith(problem), lines


def test_the_shard_settings_choose_the_bot(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = one_engine(clean_env)
    plain = make_bot(shared, DiscordSettings(token=FAKE_TOKEN))
    assert type(plain) is VerbatimBot
    sharded = make_bot(
        shared, shard_settings(monkeypatch, DISCORD_SHARD_COUNT="4", DISCORD_SHARD_IDS="1,3")
    )
    assert isinstance(sharded, ShardedVerbatimBot)
    assert sharded.shard_count == 4 and sharded.shard_ids == [1, 3]


# -- IDENTIFY turns ------------------------------------------------------------------------
def test_a_file_turn_is_held_against_other_holders_until_released(tmp_path: Path) -> None:
    turns = turns_for(EngineSettings(data_dir=tmp_path), "identify")
    other = turns_for(EngineSettings(data_dir=tmp_path), "identify")
    held = turns.try_take(0)
    assert held is not None
    assert other.try_take(0) is None and turns.try_take(0) is None  # also within one process
    bucket_one = other.try_take(1)
    assert bucket_one is not None  # buckets are independent
    held.release()
    again = other.try_take(0)
    assert again is not None
    again.release()
    bucket_one.release()
    assert (tmp_path / "locks" / "identify-0.lock").is_file()


def test_an_advisory_turn_is_held_across_connections_until_released(database_url: str) -> None:
    settings = EngineSettings(database_url=database_url)
    turns, other = turns_for(settings, "identify"), turns_for(settings, "identify")
    held = turns.try_take(0)
    assert held is not None
    assert other.try_take(0) is None and turns.try_take(0) is None
    bucket_one = other.try_take(1)
    assert bucket_one is not None
    held.release()
    held.release()  # twice is harmless
    again = other.try_take(0)
    assert again is not None
    again.release()
    bucket_one.release()


def test_an_advisory_turn_reports_a_database_that_is_down_in_one_line() -> None:
    settings = EngineSettings(database_url="postgresql://verbatim:secret@127.0.0.1:9/none")
    with pytest.raises(ConfigError) as raised:
        turns_for(settings, "identify").try_take(0)
    assert str(raised.value).startswith("VERBATIM_DATABASE_URL: cannot connect")
    assert "secret" not in str(raised.value)


async def test_identify_gates_keep_a_bucket_for_the_window(tmp_path: Path) -> None:
    window = 0.6
    first = IdentifyGate(turns_for(EngineSettings(data_dir=tmp_path), "identify"), window=window)
    second = IdentifyGate(turns_for(EngineSettings(data_dir=tmp_path), "identify"), window=window)
    started = time.monotonic()
    await first.wait_turn(0, max_concurrency=2)
    await second.wait_turn(1, max_concurrency=2)  # the other bucket: no wait
    await second.wait_turn(2, max_concurrency=2)  # shard 2 is in bucket 0, held by shard 0
    assert time.monotonic() - started >= window
    await asyncio.sleep(window + 0.3)  # let the last turn go, so tmp_path holds no lock


# -- autocomplete --------------------------------------------------------------------------
def one_engine(folder: Path) -> Engine:
    (folder / "shared").mkdir(exist_ok=True)
    (folder / "shared" / "lighthouse.txt").write_text(SHARED)
    settings = EngineSettings(corpus_dir=folder / "shared", index_dir=folder / "shared-index")
    return Engine.open(settings, encoder=HashingEncoder())


@pytest.mark.parametrize("visible", [True, False])
async def test_autocomplete_lists_documents_without_opening_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, visible: bool
) -> None:
    shared = one_engine(tmp_path)
    writer = Library(shared, tmp_path / "data")
    added = writer.add(42, prepare(TEA, filename="tea-notes.txt", title="Tea"), added_by="me")
    # Another process, or this one later: no server's engine is loaded yet.
    library = Library(shared, tmp_path / "data", shared_visible=visible)
    import index.library

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("autocomplete opened a server's engine")

    monkeypatch.setattr(index.library.GuildEngine, "__init__", refuse)
    bot = cast(VerbatimBot, SimpleNamespace(library=library))

    every = await document_choices(bot, 42, "")
    own = (added.entry.title, added.entry.doc_id)
    lighthouse = next((s.title, s.document) for s in shared.sources())
    assert [(c.name, c.value) for c in every] == ([lighthouse] if visible else []) + [own]
    assert [c.value for c in await document_choices(bot, 42, "TEA")] == [added.entry.doc_id]
    assert [c.value for c in await document_choices(bot, None, "")] == [lighthouse[1]]
    assert await document_choices(bot, 7, "tea") == []  # a server with nothing of its own
    assert library.loaded() == []
    assert not (tmp_path / "data" / "7").exists()  # nor created a folder for it


async def test_a_lock_that_cannot_be_reached_is_retried_not_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bot.identify
    from index import LockError

    class Flaky:
        """Turns whose lock fails once, then is free."""

        def __init__(self) -> None:
            self.calls = 0
            self.released = 0

        def try_take(self, bucket: int) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise LockError("cannot create the lock file /nowhere/identify-0.lock")
            return SimpleNamespace(release=lambda: setattr(self, "released", self.released + 1))

    monkeypatch.setattr(bot.identify, "FIRST_RETRY_SECONDS", 0.01)
    turns = Flaky()
    gate = IdentifyGate(turns, window=0.01)
    await asyncio.wait_for(gate.wait_turn(0, max_concurrency=1), 5)
    assert turns.calls == 2  # it waited for the lock rather than IDENTIFY without one
    assert "cannot take its IDENTIFY turn" in caplog.text and "/nowhere" in caplog.text
    await asyncio.sleep(0.1)
    assert turns.released == 1


async def test_max_concurrency_falls_back_to_one_when_discord_cannot_say(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import discord

    bot = make_bot(
        one_engine(clean_env),
        shard_settings(monkeypatch, DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS="0,1"),
    )
    assert isinstance(bot, ShardedVerbatimBot)

    async def unreachable() -> Any:
        raise discord.GatewayNotFound()

    monkeypatch.setattr(bot, "fetch_session_start_limits", unreachable)
    assert await bot._session_starts_at_once() == 1

    async def four() -> Any:
        return SimpleNamespace(max_concurrency=4)

    monkeypatch.setattr(bot, "fetch_session_start_limits", four)
    assert await bot._session_starts_at_once() == 4


def test_shards_on_files_need_no_postgres_extra(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    # The Docker image has the extra, a self-hoster's checkout may not: taking an IDENTIFY
    # turn on files must not import psycopg.
    probe = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None; "
        "sys.modules['pgvector'] = None; import bot.client, bot.syncing; "
        "from index import EngineSettings, turns_for; "
        f"turn = turns_for(EngineSettings(data_dir={str(tmp_path)!r}), 'identify').try_take(0); "
        "print(turn is not None)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
