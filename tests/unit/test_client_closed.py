"""A closed bot drops late events instead of failing on its missing event loop."""

from __future__ import annotations

import warnings
from pathlib import Path

from tests.conftest import FAKE_TOKEN
from tests.unit.test_shards import one_engine


def test_an_event_after_close_is_dropped_without_an_unawaited_coroutine(clean_env: Path) -> None:
    from bot.client import VerbatimBot
    from bot.settings import DiscordSettings, DocsSettings

    bot = VerbatimBot(
        one_engine(clean_env),
        DiscordSettings(token=FAKE_TOKEN),
        docs=DocsSettings(guilds_dir=clean_env / "guilds"),
    )
    # Not started, or closed: discord.py has no loop to schedule the handler on.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bot.dispatch("disconnect")
