"""`--guild ID` on the command line: an operator works on one server's documents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
