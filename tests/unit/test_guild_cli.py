"""`--guild ID` on the command line: an operator works on one server's documents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.test_cli import run

NOTE = "The Karvik lighthouse keeper, Amara Okafor, climbed 212 steps every evening.\n"


def test_index_ask_and_sources_for_one_server(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    # Servers live under the data folder's guilds/ (run() makes tmp_path the data folder).
    server = tmp_path / "guilds" / "42" / "corpus"
    server.mkdir(parents=True)
    (server / "karvik.txt").write_text(NOTE, encoding="utf-8")
    env = {"VERBATIM_DATA_DIR": str(tmp_path)}

    built = run(tmp_path, "index", "--guild", "42", env=env)
    assert built.returncode == 0, built.stderr
    assert "Indexed 2 document(s)" in built.stdout  # its own plus the shared article
    assert (server.parent / "index" / "manifest.json").exists()

    asked = run(
        tmp_path,
        "ask",
        "--guild",
        "42",
        "How many steps did Amara Okafor climb?",
        "--json",
        env=env,
    )
    assert asked.returncode == 0, asked.stderr
    assert "212 steps" in json.loads(asked.stdout)["quotes"][0]["text"]
    shared = run(tmp_path, "ask", "How many steps did Amara Okafor climb?", "--json", env=env)
    assert "212" not in shared.stdout  # the shared corpus alone does not have it

    listed = run(tmp_path, "sources", "--guild", "42", env=env)
    assert "karvik" in listed.stdout and "dirty-bomb-claims" in listed.stdout
    summary = run(tmp_path, "summary", "--guild", "42", "--doc", "karvik", "--json", env=env)
    assert "Amara Okafor" in summary.stdout


@pytest.mark.parametrize(
    "typed",
    ["-5", "0", "100000000000000000000000000000", "18446744073709551616", "12ab", "٤٢", " 42"],
)
def test_a_server_id_that_is_no_snowflake_is_refused_by_name(
    typed: str, clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["ask", "--guild", typed, "Who is Ben Wallace?"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "argument --guild" in error and f"{typed!r} is not a server id" in error
    assert list(clean_env.iterdir()) == []  # refused before anything was read or written


def test_the_largest_snowflake_is_a_server_id() -> None:
    from bot.cli import server_id

    assert server_id("18446744073709551615") == 2**64 - 1
    assert server_id("123456789012345678") == 123456789012345678


def test_reading_about_a_server_without_a_folder_creates_nothing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    env = {"VERBATIM_DATA_DIR": str(tmp_path)}

    listed = run(tmp_path, "sources", "--guild", "999", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "dirty-bomb-claims" in listed.stdout  # what the server sees: the shared corpus
    asked = run(tmp_path, "ask", "--guild", "999", "Who is Ben Wallace?", "--json", env=env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["answered"] is True
    assert not (tmp_path / "guilds").exists()

    hidden = {**env, "VERBATIM_SHARED_CORPUS_VISIBLE": "false"}
    for command in (["sources"], ["ask", "Who is Ben Wallace?"], ["index"]):
        refused = run(tmp_path, command[0], "--guild", "999", *command[1:], env=hidden)
        assert refused.returncode == 1, refused.stderr
        assert "server 999 has no documents of its own" in refused.stderr
        assert "shared corpus is hidden" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "guilds").exists()
