"""One connection pool per database URL and process, its schema checked when it opens."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from index.errors import ConfigError
from index.storage.postgres.schema import migrate

POOL_SIZE = 4
CONNECT_SECONDS = 10.0
_pools: dict[str, ConnectionPool[Any]] = {}
_lock = threading.Lock()


def _configure(connection: psycopg.Connection[Any]) -> None:
    """Let numpy vectors travel as pgvector's own type on every pooled connection."""
    register_vector(connection)


def pool_for(url: str) -> ConnectionPool[Any]:
    """Return the process's pool for a database, migrating its schema on first use."""
    with _lock:
        pool = _pools.get(url)
        if pool is not None:
            return pool
        try:
            with psycopg.connect(url, connect_timeout=int(CONNECT_SECONDS), autocommit=True) as c:
                migrate(c)
        except psycopg.OperationalError as error:
            # The URL may hold a password: name the problem, never the URL.
            first = (str(error).strip().splitlines() or ["unreachable"])[0][:200]
            raise ConfigError(
                f"VERBATIM_DATABASE_URL: cannot connect to the database ({first})"
            ) from None
        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            configure=_configure,
            timeout=CONNECT_SECONDS,
            open=True,
        )
        _pools[url] = pool
        return pool
