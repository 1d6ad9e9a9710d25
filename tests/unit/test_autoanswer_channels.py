"""Auto-answer channels are kept per server, durably, and seen by another process."""

from __future__ import annotations

from pathlib import Path

from bot.autoanswer_channels import AutoAnswerChannels
from bot.server_setting import CACHE_SECONDS
from index import EngineSettings, open_states


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _channels(tmp_path: Path, clock: Clock | None = None) -> AutoAnswerChannels:
    states = open_states(EngineSettings(data_dir=tmp_path), tmp_path / "guilds")
    return AutoAnswerChannels(states, clock=clock or Clock())


def test_turning_on_and_off_is_kept_per_server(tmp_path: Path) -> None:
    channels = _channels(tmp_path)
    assert not channels.any_on()
    assert channels.turn_on(1, 10, by="admin (1)")
    assert not channels.turn_on(1, 10, by="someone else")  # already on: kept as it was
    assert channels.is_on(1, 10) and not channels.is_on(2, 10) and not channels.is_on(1, 11)
    assert channels.listed(1)[10]["by"] == "admin (1)"
    assert channels.any_on()
    assert channels.turn_off(1, 10) and not channels.turn_off(1, 10)
    assert not channels.is_on(1, 10) and not channels.any_on()


def test_another_process_sees_a_change_once_its_cache_is_old(tmp_path: Path) -> None:
    clock = Clock()
    here, there = _channels(tmp_path, clock), _channels(tmp_path, clock)
    assert not there.is_on(1, 10)
    here.turn_on(1, 10, by="admin (1)")
    assert not there.is_on(1, 10)  # its cached read is still fresh
    clock.now += CACHE_SECONDS
    assert there.is_on(1, 10)
