"""Discord misbehaving: refused replies, stale commands, broken events, a gateway outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
import pytest_asyncio

from index import DatabaseUnavailable, Engine
from tests.conftest import FAKE_TOKEN
from tests.e2e.conftest import DiscordRig
from tests.e2e.test_discord_e2e import callback_for, followup_for, new_user, option, reply_to
from tests.support.discord_spec import load_validator
from tests.support.fake_discord import APP_ID, FakeDiscord

CEILING = 120.0  # generous: the suite must pass beside a CPU hog


@pytest.fixture(autouse=True)
def nothing_off_spec(request: pytest.FixtureRequest) -> Any:
    """What the bot sent and what the fake sent (unless meant broken) must match the spec."""
    fakes = [
        request.getfixturevalue(name).fake
        for name in ("rig", "own_bot")
        if name in request.fixturenames
    ]
    yield
    for fake in fakes:
        problems = fake.spec_errors + fake.event_errors
        fake.spec_errors[:], fake.event_errors[:] = [], []
        assert problems == []


async def logged(
    caplog: pytest.LogCaptureFixture, predicate: Callable[[logging.LogRecord], bool]
) -> logging.LogRecord:
    """Wait until a log record satisfies the predicate; return the first that does."""
    deadline = time.monotonic() + CEILING
    while time.monotonic() < deadline:
        found = [r for r in caplog.records if predicate(r)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise TimeoutError("the expected line was never logged")


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The log records that carry a traceback or are errors from discord.py itself."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.exc_info or (r.name.startswith("discord") and r.levelno >= logging.ERROR)
    ]


async def test_an_unknown_command_is_out_of_date_and_logged_at_info(
    rig: DiscordRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    payload = rig.fake.interaction("ask-old", [option("question", "Who?")], user=new_user())
    await rig.fake.dispatch("INTERACTION_CREATE", payload)
    callback = (await rig.fake.wait_for(callback_for(payload), CEILING))[0]
    assert "out of date" in callback.body["data"]["content"]
    assert callback.body["data"]["flags"] & 64  # only the user sees it
    record = await logged(caplog, lambda r: "ask-old" in r.getMessage())
    assert record.levelno == logging.INFO and record.exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_refused_reply_is_logged_once_naming_server_channel_and_permission(
    rig: DiscordRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake = rig.fake
    locked = fake.snowflake()
    deny_sending = {"id": APP_ID, "type": 1, "allow": "0", "deny": str(1 << 11)}
    channel = fake.channel(locked, name="announcements", overwrites=[deny_sending])
    await fake.dispatch("CHANNEL_CREATE", channel)
    fake.forbidden_channels.add(locked)
    try:
        first = fake.message("Who is Ben Wallace?", channel_id=locked, extra={"author": new_user()})
        await fake.dispatch("MESSAGE_CREATE", first)
        record = await logged(
            caplog, lambda r: r.name.startswith("bot") and locked in r.getMessage()
        )
        text = record.getMessage()
        assert "Test server" in text and "#announcements" in text and "Send Messages" in text
        assert record.levelno == logging.WARNING and record.exc_info is None
        second = fake.message(
            "Who is Ben Wallace?", channel_id=locked, extra={"author": new_user()}
        )
        await fake.dispatch("MESSAGE_CREATE", second)
        # A mention sent after the second one and answered shows the second was handled.
        control = fake.message("Who is Ben Wallace?", extra={"author": new_user()})
        await fake.dispatch("MESSAGE_CREATE", control)
        await fake.wait_for(reply_to(control), CEILING)
        reports = [
            r for r in caplog.records if r.name.startswith("bot") and locked in r.getMessage()
        ]
        assert len(reports) == 1
        assert tracebacks(caplog) == []
    finally:
        fake.forbidden_channels.discard(locked)


def test_a_refused_channel_is_reported_again_after_an_hour() -> None:
    from bot.exts.ask._denied import REPORT_EVERY_SECONDS, DeniedChannels

    now = [1000.0]
    denied = DeniedChannels(clock=lambda: now[0])
    message: Any = SimpleNamespace(
        channel=SimpleNamespace(id=5, name="general"), guild=None, author=None
    )
    error: Any = SimpleNamespace(text="Cannot send messages to this user", code=50007)
    assert denied.report(message, error)
    now[0] += REPORT_EVERY_SECONDS - 1
    assert not denied.report(message, error)
    other: Any = SimpleNamespace(channel=SimpleNamespace(id=6, name="other"), guild=None)
    assert denied.report(other, error)
    now[0] += 2
    assert denied.report(message, error)


async def test_a_broken_event_costs_a_resume_not_the_bot(
    rig: DiscordRig, caplog: pytest.LogCaptureFixture
) -> None:
    fake = rig.fake
    resumes = fake.gateway_log.count("RESUME")
    broken = fake.interaction("ask", [option("question", "Who?")], guild_id="900000000000000999")
    del broken["channel"]["position"]  # discord.py needs it to build an uncached channel
    assert fake.event_problems("INTERACTION_CREATE", broken) != []
    await fake.dispatch("INTERACTION_CREATE", broken, check=False)
    await fake.wait_for_gateway("RESUME", resumes + 1, CEILING)
    record = await logged(caplog, lambda r: "INTERACTION_CREATE" in r.getMessage())
    assert "KeyError" in record.getMessage() and record.exc_info is None
    await fake.settle(timeout=CEILING)
    payload = fake.interaction("ask", [option("question", "Who is Ben Wallace?")], user=new_user())
    await fake.dispatch("INTERACTION_CREATE", payload)
    followup = (await fake.wait_for(followup_for(payload), CEILING))[0]
    assert "defense secretary" in str(followup.body)
    assert not rig.bot.is_closed()
    assert record.levelno == logging.WARNING
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_question_sent_while_the_connection_is_down_is_answered_after_the_resume(
    rig: DiscordRig,
) -> None:
    fake = rig.fake
    resumes = fake.gateway_log.count("RESUME")
    await fake.drop_connections()
    # Discord keeps the session's events while the client reconnects and replays them on RESUME.
    payload = fake.interaction("ask", [option("question", "Who is Ben Wallace?")], user=new_user())
    await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for_gateway("RESUME", resumes + 1, CEILING)
    followup = (await fake.wait_for(followup_for(payload), CEILING))[0]
    assert "defense secretary" in str(followup.body)
    callbacks = [r for r in fake.requests if callback_for(payload)(r)]
    assert len(callbacks) == 1  # replayed once, answered once


async def test_a_lost_database_connection_is_one_line_for_the_user_and_the_log(
    rig: DiscordRig, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    # The store's own drop is tested on a real Postgres (test_postgres_connection.py); here the
    # engine raises what the store raises then, to see what the user and the log get.
    def lost(*_: object, **__: object) -> None:
        raise DatabaseUnavailable("the database connection was lost (server closed it); try again")

    # On the class: a server given documents of its own by an earlier test answers through
    # an engine of its own, which asks through Engine.ask too.
    monkeypatch.setattr(Engine, "ask", lost)
    payload = rig.fake.interaction(
        "ask", [option("question", "Who is Ben Wallace?")], user=new_user()
    )
    await rig.fake.dispatch("INTERACTION_CREATE", payload)
    followup = (await rig.fake.wait_for(followup_for(payload), CEILING))[0]
    assert "can't be reached right now" in str(followup.body)
    record = await logged(caplog, lambda r: "connection was lost" in r.getMessage())
    assert record.levelno == logging.WARNING and tracebacks(caplog) == []
    monkeypatch.undo()
    again = rig.fake.interaction(
        "ask", [option("question", "Who is Ben Wallace?")], user=new_user()
    )
    await rig.fake.dispatch("INTERACTION_CREATE", again)
    assert "defense secretary" in str(
        (await rig.fake.wait_for(followup_for(again), CEILING))[0].body
    )


def test_what_the_fake_sends_matches_discords_spec() -> None:
    fake = FakeDiscord(load_validator())
    assert fake.event_problems("GUILD_CREATE", fake._guild()) == []
    assert fake.event_problems("INTERACTION_CREATE", fake.interaction("ask")) == []
    assert fake.event_problems("CHANNEL_CREATE", fake.channel("1")) == []


async def started_fake(monkeypatch: pytest.MonkeyPatch, **options: Any) -> FakeDiscord:
    """Start a fake Discord of its own and point discord.py's REST and gateway at it."""
    import yarl

    fake = FakeDiscord(load_validator(), **options)
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    return fake


@pytest_asyncio.fixture(loop_scope="session")
async def own_bot(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SimpleNamespace]:
    """A bot of the test's own on a fake Discord of its own, reporting health every 0.1 s."""

    import bot.client
    from bot.client import VerbatimBot
    from bot.settings import DiscordSettings, DocsSettings

    monkeypatch.setattr(bot.client, "HEALTH_INTERVAL", 0.1)
    fake = await started_fake(monkeypatch, heartbeat_interval_ms=250)
    settings = DiscordSettings(
        token=FAKE_TOKEN, feedback_file=tmp_path / "feedback.jsonl", health_file=tmp_path / "health"
    )
    client = VerbatimBot(engine, settings, docs=DocsSettings(guilds_dir=tmp_path / "guilds"))
    task = asyncio.create_task(client.start(FAKE_TOKEN))
    await asyncio.wait_for(client.wait_until_ready(), CEILING)
    try:
        yield SimpleNamespace(fake=fake, bot=client, task=task)
    finally:
        await client.close()
        await asyncio.wait_for(task, CEILING)
        await fake.stop()


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (4004, "authentication failed"),
        (4010, "invalid shard"),
        (4011, "sharding required"),
        (4012, "invalid API version"),
        (4013, "invalid intents"),
        (4014, "disallowed intents"),
    ],
)
async def test_every_fatal_close_code_is_one_line_and_status_2(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
    cause: str,
) -> None:

    from bot.client import VerbatimBot
    from bot.runner import _serve_until_stopped
    from bot.settings import DiscordSettings

    fake = await started_fake(monkeypatch, close_on_identify=code)
    settings = DiscordSettings(
        token=FAKE_TOKEN, feedback_file=tmp_path / "feedback.jsonl", health_file=tmp_path / "health"
    )
    client = VerbatimBot(engine, settings)
    try:
        # The runner's own event loop, in a thread, as `python -m bot run` has in its process.
        status = await asyncio.wait_for(
            asyncio.to_thread(_serve_until_stopped, client, FAKE_TOKEN), CEILING
        )
    finally:
        await fake.stop()
    assert status == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert f"code {code}, {cause}" in errors[0].getMessage()
    assert "IDENTIFY" in fake.gateway_log


async def until(condition: Callable[[], bool]) -> None:
    """Wait until a condition holds, within the ceiling."""
    deadline = time.monotonic() + CEILING
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.05)


async def test_the_health_file_goes_stale_while_the_gateway_is_down(
    own_bot: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake, health = own_bot.fake, own_bot.bot.settings.health_file
    await until(health.exists)
    fake.gateway_down = True
    await fake.drop_connections()
    await logged(caplog, lambda r: "Lost the connection to Discord's gateway" in r.getMessage())
    health.unlink()
    # Several refused attempts, dozens of health intervals apart: none may touch the file.
    await fake.wait_for_gateway("refused", 3, CEILING)
    assert not health.exists()
    fake.gateway_down = False
    await fake.wait_for_gateway("RESUME", 1, CEILING)
    await until(health.exists)
    await logged(caplog, lambda r: "Reconnected to Discord's gateway" in r.getMessage())
    outage = [r for r in caplog.records if "Lost the connection" in r.getMessage()]
    assert len(outage) == 1 and outage[0].levelno == logging.WARNING
    assert tracebacks(caplog) == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_token_reset_while_running_closes_the_bot_with_one_line(
    own_bot: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    fake, client = own_bot.fake, own_bot.bot
    fake.token_revoked = True
    for _ in range(3):
        message = fake.message("Who is Ben Wallace?", extra={"author": new_user()})
        await fake.dispatch("MESSAGE_CREATE", message)
    await asyncio.wait_for(own_bot.task, CEILING)  # the bot stops by itself
    assert client.token_rejected and client.is_closed()
    lines = [r for r in caplog.records if "no longer accepts the token" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert tracebacks(caplog) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        lines[0].getMessage()
    ]
