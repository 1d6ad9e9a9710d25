"""A database that is down at start, or drops a connection mid-question, gets one clear line."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from index import ConfigError, DatabaseUnavailable, Engine, EngineSettings
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder
from tests.support.timing import WAIT_SECONDS

QUESTION = "Who spoke with Shoigu?"


def engine_on(database_url: str, folder: Path) -> Engine:
    shutil.copytree(ROOT / "corpus", folder / "corpus")
    settings = EngineSettings(
        corpus_dir=folder / "corpus", index_dir=folder / "index", database_url=database_url
    )
    return Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())


def quotes(engine: Engine) -> list[str]:
    return [quote.text for quote in engine.ask(QUESTION).quotes]


def test_a_database_that_is_down_is_retried_with_back_off_then_named_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    url = "postgresql://verbatim:hunter2@127.0.0.1:9/verbatim?connect_timeout=1"
    settings = EngineSettings(
        corpus_dir=tmp_path / "corpus", database_url=url, database_wait_seconds=1.6
    )
    caplog.set_level(logging.WARNING)
    with pytest.raises(ConfigError) as caught:
        Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())
    message = str(caught.value)
    assert message.startswith("VERBATIM_DATABASE_URL: cannot connect") and "\n" not in message
    retries = [r.getMessage() for r in caplog.records if "trying again in" in r.getMessage()]
    # 0.5 s, then 1 s: each wait longer than the last, and none past the deadline.
    assert [line.rsplit(" in ", 1)[1] for line in retries] == ["0.5 s", "1.0 s"]
    assert all("hunter2" not in line for line in [*retries, message])


def test_a_database_that_does_not_exist_is_not_waited_for(
    postgres_server: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    parts = urlsplit(postgres_server)
    missing = urlunsplit(parts._replace(path="/no_such_database"))
    # A wait long enough to notice: the failure must come at once, with no retry.
    settings = EngineSettings(corpus_dir=tmp_path, database_url=missing, database_wait_seconds=30)
    caplog.set_level(logging.WARNING)
    with pytest.raises(ConfigError, match='database "no_such_database" does not exist'):
        Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())
    assert not [r for r in caplog.records if "trying again" in r.getMessage()]


def test_connections_the_server_dropped_while_idle_are_replaced(
    database_url: str, tmp_path: Path
) -> None:
    engine = engine_on(database_url, tmp_path)
    before = quotes(engine)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            # With a timeout, each call returns once its backend has gone, socket closed.
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert before and quotes(engine) == before


def test_a_connection_lost_during_a_question_is_named_and_the_next_question_works(
    database_url: str, tmp_path: Path
) -> None:
    engine = engine_on(database_url, tmp_path)
    before = quotes(engine)
    outcome: list[BaseException | list[str]] = []

    def ask() -> None:
        try:
            outcome.append(quotes(engine))
        except BaseException as error:
            outcome.append(error)

    with psycopg.connect(database_url) as blocker:
        # Hold the windows table, so the question's query waits on the lock: a real backend
        # that is mid-question when it is killed.
        blocker.execute("LOCK TABLE windows IN ACCESS EXCLUSIVE MODE")
        asker = threading.Thread(target=ask)
        asker.start()
        waiting = None
        deadline = time.monotonic() + WAIT_SECONDS
        with psycopg.connect(database_url, autocommit=True) as admin:
            while waiting is None and time.monotonic() < deadline:
                row = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).fetchone()
                waiting = row[0] if row else None
                time.sleep(0.05)
            assert waiting is not None, "the question never reached the database"
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting,))
        asker.join(WAIT_SECONDS)
        blocker.rollback()
    assert len(outcome) == 1 and isinstance(outcome[0], DatabaseUnavailable)
    assert str(outcome[0]).startswith("the database connection was lost")
    assert quotes(engine) == before
