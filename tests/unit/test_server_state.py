"""Servers' small settings: kept per server, changed atomically, on files and in Postgres."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from index import EngineSettings, ServerStates, open_states


@pytest.fixture(params=["files", "postgres"])
def states(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerStates]:
    """The settings store of each kind, empty."""
    if request.param == "files":
        settings = EngineSettings(data_dir=tmp_path)
    else:
        settings = EngineSettings(
            data_dir=tmp_path, database_url=request.getfixturevalue("database_url")
        )
    yield open_states(settings, tmp_path / "guilds")


def _switch_on(channel: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, channel: True}

    return change


def test_values_are_kept_per_server_and_key(states: ServerStates) -> None:
    assert states.read("1", "autoanswer") == {}
    states.update("1", "autoanswer", _switch_on("10"))
    assert states.read("1", "autoanswer") == {"10": True}
    assert states.read("2", "autoanswer") == {}
    assert states.read("1", "refresh") == {}
    assert states.tenants("autoanswer") == ["1"]


def test_an_emptied_value_no_longer_lists_its_server(states: ServerStates) -> None:
    states.update("1", "autoanswer", _switch_on("10"))
    states.update("1", "autoanswer", lambda value: {})
    assert states.tenants("autoanswer") == []


def test_concurrent_changes_are_all_kept(states: ServerStates) -> None:
    threads = [
        threading.Thread(target=states.update, args=("1", "autoanswer", _switch_on(str(n))))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(states.read("1", "autoanswer")) == {str(n) for n in range(8)}


def test_a_damaged_settings_file_reads_as_empty_and_is_rewritten(tmp_path: Path) -> None:
    states = open_states(EngineSettings(data_dir=tmp_path), tmp_path / "guilds")
    damaged = tmp_path / "guilds" / "1" / "state" / "autoanswer.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{not json", encoding="utf-8")
    assert states.read("1", "autoanswer") == {}
    states.update("1", "autoanswer", _switch_on("10"))
    assert states.read("1", "autoanswer") == {"10": True}
