"""Operator mistakes at start-up end in one clear line and a non-zero status, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from index.errors import ModelLoadError
from index.retrieval.encoder import SentenceEncoder
from tests.conftest import FAKE_TOKEN, ROOT
from tests.support.timing import WAIT_SECONDS


def run(
    data: Path, *args: str, env: dict[str, str] | None = None, timeout: float = WAIT_SECONDS
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    clean.update(PYTHONPATH=str(ROOT), VERBATIM_DATA_DIR=str(data))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=data,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=timeout,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "note.txt").write_text(
        "The lighthouse keeper is Ada. She lives alone.\n"
    )
    return tmp_path


def test_a_missing_corpus_folder_names_the_setting(data: Path) -> None:
    result = run(
        data, "ask", "Who keeps the lighthouse?", env={"VERBATIM_CORPUS_DIR": "/nonexistent"}
    )
    assert_clean_failure(result, "VERBATIM_CORPUS_DIR", "/nonexistent", "does not exist")
    assert not (data / ".verbatim-index").exists()


def test_a_model_path_that_does_not_exist_is_named_as_a_path(data: Path) -> None:
    result = run(data, "index", env={"VERBATIM_MODEL": "/nonexistent"})
    assert_clean_failure(result, "VERBATIM_MODEL=/nonexistent", "local path")
    assert "hub" not in result.stderr.lower()
    with pytest.raises(ModelLoadError, match="nothing exists there"):
        SentenceEncoder("./no-such-model-folder")


def test_a_bad_question_is_rejected_before_the_model_loads(data: Path) -> None:
    # The model setting is broken on purpose: loading it would fail with another message.
    result = run(data, "ask", "", env={"VERBATIM_MODEL": "no-such-org/no-such-model"})
    assert_clean_failure(result, "question is empty")
    assert "VERBATIM_MODEL" not in result.stderr


@pytest.mark.parametrize("length", ["²", "①", "٣", "lots"])
def test_a_bad_summary_length_is_a_clear_error(data: Path, length: str) -> None:
    result = run(data, "summary", "--length", length, env={"VERBATIM_MODEL": "/nonexistent"})
    assert result.returncode == 2
    assert_clean_failure(result, "Length must be 1-15")


def test_an_invalid_log_level_names_the_variable(data: Path) -> None:
    result = run(data, "sources", env={"VERBATIM_LOG_LEVEL": "chatty"})
    assert_clean_failure(result, "VERBATIM_LOG_LEVEL")


def test_the_health_file_in_a_missing_folder_is_an_error_at_start(data: Path) -> None:
    env = {
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DISCORD_HEALTH_FILE": str(data / "no-such-folder" / "health"),
        # Were the check missing, the bot would try this dead address instead of stopping.
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
    }
    result = run(data, "run", env=env)
    assert result.returncode == 2
    assert_clean_failure(result, "DISCORD_HEALTH_FILE", "does not exist")


def test_an_index_that_cannot_be_written_fails_in_one_line(data: Path) -> None:
    result = run(data, "index", env={"VERBATIM_INDEX_DIR": "/proc/verbatim-index"})
    assert_clean_failure(result, "error: the index was not saved", "/proc/verbatim-index")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1


def test_no_network_at_start_is_retried_and_stops_cleanly(data: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    clean.update(
        PYTHONPATH=str(ROOT),
        VERBATIM_DATA_DIR=str(data),
        DISCORD_TOKEN=FAKE_TOKEN,
        DISCORD_API_BASE="http://127.0.0.1:9/api/v10",  # nothing listens: like no network
        DISCORD_HEALTH_FILE=str(data / "health"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=data,
        env=clean,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line)
            if "retrying in" in line:
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest
    assert "Cannot reach Discord at http://127.0.0.1:9" in output and "retrying in 2 s" in output
    assert process.returncode == 0 and "Traceback" not in output, output
