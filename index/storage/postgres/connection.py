"""One connection pool per database URL and process, its schema checked when it opens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolTimeout

from index.errors import ConfigError, DatabaseUnavailable
from index.storage.postgres.schema import migrate

log = logging.getLogger(__name__)
# Three per engine thread at the default of two: a question asks its dense side and, in a large
# view, its keyword side's two row ranges at once (index/retrieval/fusion.py,
# index/storage/postgres/view.py); a job and the polling of jobs take the rest.
POOL_SIZE = 8
CONNECT_SECONDS = 10.0
DEFAULT_WAIT_SECONDS = 60.0
FIRST_DELAY, LONGEST_DELAY = 0.5, 10.0
# What waiting cannot fix: a wrong password or user, a database that does not exist. A refusal
# at connect time carries no SQLSTATE in psycopg, so the server's own words are matched too.
FINAL_STATES = {"28000", "28P01", "3D000", "42501"}
FINAL_WORDS = ("does not exist", "password authentication failed", "no pg_hba.conf entry")
# SQLSTATEs of a lost or refused connection, besides errors with no state (a dead socket).
LOST_STATES = {"57P01", "57P02", "57P03"}
_pools: dict[str, ConnectionPool[Any]] = {}
_lock = threading.Lock()


def _configure(connection: psycopg.Connection[Any]) -> None:
    """Let numpy vectors travel as pgvector's own type on every pooled connection."""
    register_vector(connection)


def _check_closed_by_server(connection: psycopg.Connection[Any]) -> None:
    """Raise if the server has ended this pooled connection, reading only what has arrived."""
    # No round trip, unlike the pool's own check (an empty query): a question takes several
    # connections, and a ping each would be a network wait each. A server that ends a session
    # (a restart, a fail-over, pg_terminate_backend) sends its reason and closes the socket;
    # reading that, without blocking, finds the connection broken.
    pgconn = connection.pgconn
    # Twice: the first read takes the server's farewell, the second meets the socket's end
    # (and raises OperationalError). On a live idle connection both find nothing, at once.
    for _ in range(2):
        if pgconn.status == pq.ConnStatus.OK:
            pgconn.consume_input()
    if pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the server closed the connection")


def first_line(error: BaseException) -> str:
    """Return an error's first line, short; psycopg's messages never hold the password."""
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    # "connection failed: connection to server on socket ... failed: FATAL:  database "x"
    # does not exist": the server's reason is what an operator needs.
    reason = line.rsplit("FATAL:", 1)[-1].strip()
    return reason[:200]


def _final(error: psycopg.OperationalError) -> bool:
    """Return whether retrying cannot help: the server answered, and refused."""
    return error.sqlstate in FINAL_STATES or any(words in str(error) for words in FINAL_WORDS)


def connection_lost(error: BaseException) -> bool:
    """Return whether an error means the connection broke, rather than the query failed."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith("08") or state in LOST_STATES


class ResilientPool(ConnectionPool[Any]):
    """A pool whose lost connections raise DatabaseUnavailable and are replaced on checkout."""

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """Lend a live connection; a lost one is named as DatabaseUnavailable, then dropped."""
        try:
            with super().connection(timeout) as connection:
                yield connection
        except (psycopg.OperationalError, PoolTimeout) as error:
            if not connection_lost(error):
                raise
            # The pool has already discarded the broken connection, so the next call works.
            raise DatabaseUnavailable(
                f"the database connection was lost ({first_line(error)}); try again"
            ) from error


def _migrated(url: str, wait_seconds: float) -> None:
    """Connect and migrate, retrying with back-off while the server is down or starting."""
    deadline = time.monotonic() + wait_seconds
    delay = FIRST_DELAY
    while True:
        try:
            with psycopg.connect(url, connect_timeout=int(CONNECT_SECONDS), autocommit=True) as c:
                migrate(c)
            return
        except psycopg.OperationalError as error:
            # The URL may hold a password: name the problem, never the URL.
            reason = first_line(error)
            if _final(error) or time.monotonic() + delay > deadline:
                raise ConfigError(
                    f"VERBATIM_DATABASE_URL: cannot connect to the database ({reason})"
                ) from None
            log.warning("The database is not reachable (%s); trying again in %.1f s", reason, delay)
            time.sleep(delay)
            delay = min(delay * 2, LONGEST_DELAY)


def pool_for(url: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> ConnectionPool[Any]:
    """Return the process's pool for a database, migrating its schema on first use."""
    with _lock:
        pool = _pools.get(url)
        if pool is not None:
            return pool
        _migrated(url, wait_seconds)
        pool = ResilientPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            configure=_configure,
            # A connection the server dropped while idle (a restart, a fail-over) is replaced
            # on checkout instead of failing the next question.
            check=_check_closed_by_server,
            timeout=CONNECT_SECONDS,
            open=True,
        )
        _pools[url] = pool
        return pool


def close_pool(url: str) -> None:
    """Close and forget the process's pool for a database, if one is open."""
    with _lock:
        pool = _pools.pop(url, None)
    if pool is not None:
        pool.close()
