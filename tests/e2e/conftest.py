"""The end-to-end tests' rig: a real discord.py bot connected to a fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bot.client import VerbatimBot
from index import Engine
from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord
from tests.support.timing import WAIT_SECONDS


@dataclass
class DiscordRig:
    """A running bot connected to a fake Discord."""

    fake: FakeDiscord
    bot: VerbatimBot
    feedback: Path


# Package-scoped: the bot is closed once the end-to-end tests are done. Kept for the whole
# session, its gateway heartbeat thread found the session loop idle through every synchronous
# test after them and logged "heartbeat blocked" into whichever test was capturing stderr.
@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def rig(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DiscordRig]:
    """Start the fake Discord and a real discord.py bot pointed at it."""
    import discord
    import yarl

    from bot.settings import DiscordSettings, DocsSettings
    from tests.support.discord_spec import load_validator

    # A short heartbeat makes a blocked event loop show up within a test's few seconds.
    fake = FakeDiscord(load_validator(), heartbeat_interval_ms=250)
    await fake.start()
    old_base, old_gateway = (
        discord.http.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    settings = DiscordSettings(
        token=FAKE_TOKEN,
        feedback_file=feedback,
        cooldown_uses=3,
        cooldown_seconds=30,
        health_file=feedback.parent / "health",
    )
    # Each server's documents live under a temporary data folder, never the working tree.
    # Message text asked for from the start: a channel added as a source mid-session then
    # needs no new session, which would drop the events a later test sends.
    docs = DocsSettings(guilds_dir=tmp_path_factory.mktemp("guilds"), message_content=True)
    bot = VerbatimBot(engine, settings, docs=docs)
    task = asyncio.create_task(bot.start(FAKE_TOKEN))
    await asyncio.wait_for(bot.wait_until_ready(), WAIT_SECONDS)
    try:
        yield DiscordRig(fake, bot, feedback)
    finally:
        await bot.close()
        await asyncio.wait_for(task, WAIT_SECONDS)
        await fake.stop()
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
