"""`python -m bot run` as a real process: connects, answers, and closes cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from tests.conftest import FAKE_TOKEN, ROOT
from tests.support.discord_spec import load_validator
from tests.support.fake_discord import APP_ID, FakeDiscord
from tests.support.timing import WAIT_SECONDS


async def test_the_bot_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    fake = FakeDiscord(load_validator(), heartbeat_interval_ms=500)
    await fake.start()
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DISCORD_TOKEN=FAKE_TOKEN,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DISCORD_HEALTH_FILE=str(tmp_path / "health"),
        VERBATIM_CORPUS_DIR=str(tmp_path / "corpus"),
        VERBATIM_INDEX_DIR=str(tmp_path / "index"),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await asyncio.wait_for(fake.identified.wait(), WAIT_SECONDS)
        await fake.wait_for(
            lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands"
        )
        payload = fake.interaction(
            "ask", [{"name": "question", "type": 3, "value": "Who is Ben Wallace?"}]
        )
        await fake.dispatch("INTERACTION_CREATE", payload)
        followup = await fake.wait_for(lambda r: r.path == f"/webhooks/{APP_ID}/{payload['token']}")
        assert "defense secretary of the United Kingdom" in str(followup[0].body)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), WAIT_SECONDS)
        output = (await process.stdout.read()).decode() if process.stdout else ""
        assert code == 0, output
        assert "Received SIGTERM" in output and FAKE_TOKEN not in output
        # One handler: each record printed once; not a terminal, so no colour codes.
        assert output.count("Received SIGTERM") == 1 and output.count("Synced ") == 1
        assert "\x1b[" not in output
        assert "Indexing the corpus" in output and "before connecting" in output
        assert fake.spec_errors == []
        assert not (tmp_path / "health").exists()  # removed on a clean close
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()
