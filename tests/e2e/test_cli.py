"""The command line, run as a user would: `python -m bot ...` in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAKE_TOKEN, ROOT
from tests.support.timing import WAIT_SECONDS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    shutil.copytree(ROOT / "corpus", folder / "corpus")
    return folder


def run(
    workdir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    clean["PYTHONPATH"] = str(ROOT)
    clean["VERBATIM_DATA_DIR"] = str(workdir)  # relative paths resolve there, not in the cwd
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=workdir,
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=WAIT_SECONDS,
    )


def test_index_then_ask_json(workdir: Path) -> None:
    built = run(workdir, "index")
    assert built.returncode == 0, built.stderr
    assert "Indexed 1 document(s)" in built.stdout and "embedded 1" in built.stdout
    again = run(workdir, "index")
    assert "embedded 0, reused 1" in again.stdout  # nothing re-embedded on a second start
    result = run(workdir, "ask", "Who is Lloyd Austin?", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == "Who is Lloyd Austin?" and data["answered"] is True
    quote = data["quotes"][0]
    assert set(quote) == {
        "document",
        "title",
        "paragraph",
        "start",
        "end",
        "text",
        "score",
        "verifier",
        "highlight",
    }
    assert 0.0 < quote["verifier"] <= 1.0
    source = (workdir / "corpus" / "dirty-bomb-claims.txt").read_text(encoding="utf-8")
    assert source[quote["start"] : quote["end"]] == quote["text"]
    assert "Lloyd Austin" in quote["text"] and set(quote["highlight"]) == {"start", "end"}


def test_ask_plain_text_and_abstention(workdir: Path) -> None:
    answered = run(workdir, "ask", "Who is Ben Wallace?")
    assert "paragraph 8" in answered.stdout and "**" in answered.stdout
    declined = run(workdir, "ask", "What is the population of Brazil?", "--json")
    assert json.loads(declined.stdout)["answered"] is False
    assert "closest" not in json.loads(declined.stdout)  # near passages only when asked for


def test_closest_passages_come_only_on_request_and_are_labelled(workdir: Path) -> None:
    question = "When did Stoltenberg meet Shoigu?"  # both are named; no meeting is reported
    plain = run(workdir, "ask", question)
    assert (
        plain.returncode == 0
        and "don't contain" in plain.stdout
        and "paragraph" not in plain.stdout
    )
    shown = run(workdir, "ask", question, "--closest")
    assert "Closest passages (may not answer)" in shown.stdout and "paragraph 8" in shown.stdout
    data = json.loads(run(workdir, "ask", question, "--closest", "--json").stdout)
    assert data["answered"] is False and data["quotes"] == []
    assert data["closest"] and all(q["verifier"] < 0.5 for q in data["closest"])


def test_summary_json_and_topic(workdir: Path) -> None:
    result = run(workdir, "summary", "--topic", "Radakin", "--length", "2", "--json")
    data = json.loads(result.stdout)
    assert data["answered"] and len(data["quotes"]) == 2 and data["topic"] == "Radakin"


def test_chat_reads_questions_until_quit(workdir: Path) -> None:
    result = run(
        workdir,
        "chat",
        stdin="Who is Jens Stoltenberg?\n/sources\n\n/summary Gerasimov\n/quit\nnever read\n",
    )
    assert result.returncode == 0
    assert "the chairman of NATO" in result.stdout
    assert "dirty-bomb-claims" in result.stdout and "15 paragraphs" in result.stdout
    assert "Gerasimov" in result.stdout


def test_bad_question_is_a_clear_error(workdir: Path) -> None:
    result = run(workdir, "ask", "   ")
    assert result.returncode == 2 and "question is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_names_the_variable(workdir: Path) -> None:
    result = run(workdir, "ask", "hi", env={"VERBATIM_BATCH_SIZE": "lots"})
    assert result.returncode == 2 and "VERBATIM_BATCH_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_token_is_named_but_never_printed(workdir: Path) -> None:
    secret = "not-a-token-but-secret-xyz"
    result = run(workdir, "run", env={"DISCORD_TOKEN": secret})
    assert result.returncode == 2 and "DISCORD_TOKEN" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_run_without_a_token_explains_and_points_to_chat(workdir: Path) -> None:
    result = run(workdir, "run")
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr and "python -m bot chat" in result.stderr


def test_env_file_is_read(workdir: Path) -> None:
    (workdir / ".env").write_text("VERBATIM_MAX_QUOTES=9\n")
    try:
        result = run(workdir, "ask", "hi")
    finally:
        (workdir / ".env").unlink()
    assert result.returncode == 2 and "VERBATIM_MAX_QUOTES" in result.stderr


def test_an_unparsable_env_line_is_named_once(workdir: Path) -> None:
    (workdir / ".env").write_text("VERBATIM_MAX_QUOTES=2\nVERBATIM_TOP_K 9\n")
    try:
        result = run(workdir, "ask", "   ")
    finally:
        (workdir / ".env").unlink()
    warnings = [line for line in result.stderr.splitlines() if "line 2" in line]
    assert warnings == [
        f"warning: {workdir / '.env'} line 2 cannot be parsed, so VERBATIM_TOP_K is not set "
        "from it; write NAME=value"
    ]
    assert "python-dotenv" not in result.stderr and "line 1" not in result.stderr


def test_asking_shows_no_progress_bars(workdir: Path) -> None:
    result = run(workdir, "ask", "Who is Ben Wallace?")
    assert result.returncode == 0 and "paragraph 8" in result.stdout
    assert "Loading weights" not in result.stderr and "it/s" not in result.stderr


# What `pip install -e .` adds: a finder asked only after the path, where the working folder is.
EDITABLE_INSTALL = """
import importlib.util, sys
from importlib.machinery import PathFinder


class Editable:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in ("bot", "index"):
            return None
        folder = f"{root}/{name}"
        return importlib.util.spec_from_file_location(
            name, f"{folder}/__init__.py", submodule_search_locations=[folder]
        )


sys.meta_path.insert(sys.meta_path.index(PathFinder) + 1, Editable)
"""


def test_the_command_runs_from_a_data_folder_holding_an_index_folder(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"root = {str(ROOT)!r}\n{EDITABLE_INSTALL}")
    data = tmp_path / "data"
    shutil.copytree(ROOT / "corpus", data / "corpus")
    (data / "index" / "relations").mkdir(parents=True)  # what an index folder holds
    env = {"PYTHONPATH": str(site), "VERBATIM_INDEX_DIR": "index"}
    script = Path(sys.executable).parent / "verbatim"
    for command in ([sys.executable, "-m", "bot"], [str(script)]):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
        result = subprocess.run(
            [*command, "sources"],
            cwd=data,
            capture_output=True,
            text=True,
            env={**clean, "VERBATIM_DATA_DIR": str(data), **env},
            timeout=WAIT_SECONDS,
        )
        assert result.returncode == 0, result.stderr
        assert "dirty-bomb-claims" in result.stdout
    assert (data / "index" / "manifest.json").exists()


def test_valid_token_shape_is_accepted_and_hidden() -> None:
    from bot.settings import DiscordSettings

    settings = DiscordSettings(token=FAKE_TOKEN)
    assert FAKE_TOKEN not in repr(settings) and FAKE_TOKEN not in str(settings.model_dump())


def test_env_example_is_a_valid_configuration(workdir: Path) -> None:
    shutil.copy(ROOT / ".env.example", workdir / ".env")
    try:
        result = run(workdir, "run")
    finally:
        (workdir / ".env").unlink()
    assert result.returncode == 2
    assert (
        "No Discord token is set" in result.stderr and "Invalid configuration" not in result.stderr
    )


def test_a_closed_pipe_is_not_a_traceback(workdir: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    clean.update(PYTHONPATH=str(ROOT), VERBATIM_DATA_DIR=str(workdir))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--json", "Who did Stoltenberg speak with?"],
        cwd=workdir,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -1` having read its line and gone
    errors = process.stderr.read()
    process.wait(timeout=WAIT_SECONDS)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
