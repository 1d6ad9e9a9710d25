"""The import contracts in pyproject.toml hold, and the linter fails when code breaks one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copy the two packages and their contracts, so that a test can break them safely."""
    folder = tmp_path_factory.mktemp("layering")
    for package in ("index", "bot"):
        skip = shutil.ignore_patterns("__pycache__", "weights")
        shutil.copytree(ROOT / package, folder / package, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", folder)
    return folder


def lint(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter over the packages in `folder`, not the installed ones."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def broken(folder: Path, module: str, source: str) -> subprocess.CompletedProcess[str]:
    """Lint with one extra module written into the copy, then take it away again."""
    path = folder / (module.replace(".", "/") + ".py")
    path.write_text(f'"""A module that breaks a contract."""\n\n{source}\n')
    try:
        return lint(folder)
    finally:
        path.unlink()


def test_the_contracts_hold_for_the_code_as_it_is(packages: Path) -> None:
    result = lint(packages)
    assert result.returncode == 0, result.stdout
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


def test_a_bot_module_importing_below_the_front_door_fails(packages: Path) -> None:
    result = broken(packages, "bot.reach_in", "from index.engine import Engine  # noqa: F401")
    assert result.returncode == 1
    assert "bot reaches the engine through index's front door only BROKEN" in result.stdout
    assert "bot.reach_in -> index.engine" in result.stdout


def test_a_stage_importing_a_higher_stage_fails(packages: Path) -> None:
    result = broken(
        packages, "index.corpus.upward", "from index.engine import Engine  # noqa: F401"
    )
    assert result.returncode == 1
    assert "each stage of the engine imports only the stages below it BROKEN" in result.stdout


def test_only_the_storage_factory_imports_the_local_store(packages: Path) -> None:
    source = "from index.storage.local.store import LocalStore  # noqa: F401"
    result = broken(packages, "index.answering.around", source)
    assert result.returncode == 1
    assert "imported by the storage factory (and the copy) only BROKEN" in result.stdout


def test_the_engine_never_imports_discord(packages: Path) -> None:
    result = broken(packages, "index.chatty", "import discord  # noqa: F401")
    assert result.returncode == 1
    assert "the engine never imports Discord or the bot BROKEN" in result.stdout
