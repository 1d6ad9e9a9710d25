"""Relative paths in every setting mean "in VERBATIM_DATA_DIR", wherever the command runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.runner import healthy
from bot.settings import DiscordSettings
from index.errors import ModelLoadError
from index.retrieval.encoder import SentenceEncoder
from index.settings import PACKAGED_MODEL, EngineSettings

VARIABLES = (
    "VERBATIM_DATA_DIR",
    "VERBATIM_MODEL",
    "VERBATIM_VERIFIER",
    "DISCORD_HEALTH_FILE",
    "DISCORD_FEEDBACK_FILE",
)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder named by VERBATIM_DATA_DIR, and a working folder somewhere else."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "data"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # holds no .env, and none of the data folder's files
    monkeypatch.setenv("VERBATIM_DATA_DIR", str(folder))
    return folder


def test_a_model_path_is_found_in_the_data_folder(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (data / "mymodel").mkdir()
    monkeypatch.setenv("VERBATIM_MODEL", "./mymodel")
    assert EngineSettings().model == str(data / "mymodel")
    monkeypatch.setenv("VERBATIM_MODEL", "mymodel")  # no "./", but it is there
    assert EngineSettings().model == str(data / "mymodel")
    monkeypatch.setenv("VERBATIM_MODEL", "../models/other")
    assert EngineSettings().model == str(data / "../models/other")
    SentenceEncoder(EngineSettings(model="./mymodel").model)  # no "nothing exists there"


def test_a_model_name_stays_a_name(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert EngineSettings().model == PACKAGED_MODEL
    monkeypatch.setenv("VERBATIM_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    assert EngineSettings().model == "sentence-transformers/all-MiniLM-L6-v2"
    monkeypatch.setenv("VERBATIM_MODEL", str(data / "absolute"))
    assert EngineSettings().model == str(data / "absolute")
    monkeypatch.setenv("VERBATIM_MODEL", "~/mymodel")
    assert EngineSettings().model == str(Path.home() / "mymodel")


def test_a_missing_model_path_is_named_in_the_data_folder(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERBATIM_MODEL", "./nothing-here")
    with pytest.raises(ModelLoadError, match="nothing exists there") as error:
        SentenceEncoder(EngineSettings().model)
    assert str(data / "nothing-here") in str(error.value)


def test_a_verifier_folder_is_found_in_the_data_folder(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERBATIM_VERIFIER", "myverifier")
    assert EngineSettings().verifier == str(data / "myverifier")
    for word in ("bundled", "off", "OFF", " Bundled "):
        monkeypatch.setenv("VERBATIM_VERIFIER", word)
        assert EngineSettings().verifier == word


def test_discord_files_are_in_the_data_folder(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_HEALTH_FILE", "rel.h")
    monkeypatch.setenv("DISCORD_FEEDBACK_FILE", "votes/feedback.jsonl")
    settings = DiscordSettings()
    assert settings.health_file == data / "rel.h"
    assert settings.feedback_file == data / "votes" / "feedback.jsonl"
    monkeypatch.delenv("DISCORD_HEALTH_FILE")
    assert DiscordSettings().health_file == Path("/tmp/verbatim.health")


def test_health_reads_the_file_in_the_data_folder(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_HEALTH_FILE", "rel.h")
    assert not healthy()
    (data / "rel.h").touch()
    assert healthy()
    assert not (Path(os.getcwd()) / "rel.h").exists()
