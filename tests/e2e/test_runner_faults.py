"""`python -m bot run` and `health` as real processes when Discord ends the session."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAKE_TOKEN, ROOT
from tests.support.discord_spec import load_validator
from tests.support.fake_discord import APP_ID, FakeDiscord

CEILING = 300.0  # a process loads the embedding model first: generous, for a busy machine


def bot_env(data: Path, fake: FakeDiscord | None = None) -> dict[str, str]:
    """The environment of a bot process with its data in `data`, pointed at the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        VERBATIM_DATA_DIR=str(data),
        DISCORD_TOKEN=FAKE_TOKEN,
        DISCORD_HEALTH_FILE=str(data / "health"),
    )
    if fake is not None:
        env.update(DISCORD_API_BASE=fake.api_base, DISCORD_GATEWAY_URL=fake.gateway_url)
    return env


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "note.txt").write_text("The lighthouse keeper is Ada.\n")
    return tmp_path


async def start_bot(data: Path, fake: FakeDiscord) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=data,
        env=bot_env(data, fake),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the process to end by itself; return its status and output."""
    try:
        output, _ = await asyncio.wait_for(process.communicate(), CEILING)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode()


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if " ERROR " in line]


@pytest.mark.parametrize(
    ("code", "cause"),
    # The two seen in the field; every fatal code is checked in-process in test_discord_faults.
    [(4004, "DISCORD_TOKEN"), (4013, "invalid intents")],
)
async def test_a_fatal_close_code_is_one_line_and_exit_2(data: Path, code: int, cause: str) -> None:
    fake = FakeDiscord(load_validator(), close_on_identify=code)
    await fake.start()
    try:
        status, output = await finish(await start_bot(data, fake))
    finally:
        await fake.stop()
    assert status == 2, output
    assert "Traceback" not in output, output
    assert "IDENTIFY" in fake.gateway_log
    errors = error_lines(output)
    assert len(errors) == 1, output
    assert f"code {code}" in errors[0] and cause in errors[0]


async def test_a_token_revoked_mid_session_stops_with_one_line_and_exit_2(data: Path) -> None:
    fake = FakeDiscord(load_validator(), heartbeat_interval_ms=500)
    await fake.start()
    process = await start_bot(data, fake)
    try:
        await asyncio.wait_for(fake.identified.wait(), CEILING)
        await fake.wait_for(
            lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands", CEILING
        )
        fake.token_revoked = True
        for _ in range(3):
            await fake.dispatch("MESSAGE_CREATE", fake.message("Who keeps the lighthouse?"))
        status, output = await finish(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()
    assert status == 2, output
    assert "Traceback" not in output, output
    assert error_lines(output) == [
        line for line in output.splitlines() if "no longer accepts the token" in line
    ]
    assert len(error_lines(output)) == 1, output
    assert not (data / "health").exists()


def health(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "health"],
        cwd=data,
        env=bot_env(data),
        capture_output=True,
        text=True,
        timeout=CEILING,
    )


def test_health_says_in_one_line_why_it_fails(data: Path) -> None:
    missing = health(data)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    assert str(data / "health") in missing.stderr
    (data / "health").touch()
    stale = time.time() - 600
    os.utime(data / "health", (stale, stale))
    old = health(data)
    assert old.returncode == 1
    assert old.stderr.count("\n") == 1 and re.search(r"last touched 6\d\d s ago", old.stderr)
    (data / "health").touch()
    fresh = health(data)
    assert fresh.returncode == 0 and fresh.stderr == ""
