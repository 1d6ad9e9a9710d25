"""Turns across hosts: a session advisory lock per bucket, each on a connection of its own."""

from __future__ import annotations

import zlib
from typing import Any

import psycopg

from index.errors import ConfigError

CONNECT_SECONDS = 10


def namespace(name: str) -> int:
    """Return the first key of a name's advisory locks: a stable 31-bit number."""
    # The two-key form (int4, int4) never meets the stores' one-key (bigint) locks on a
    # server id: Postgres keeps the two forms apart.
    return zlib.crc32(f"verbatim:{name}".encode()) & 0x7FFFFFFF


class AdvisoryTurn:
    """A held advisory lock; the connection it lives on is closed when it is released."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection: psycopg.Connection[Any] | None = connection

    def release(self) -> None:
        """Close the connection, which releases its session's lock (once)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class AdvisoryTurns:
    """`pg_try_advisory_lock(namespace, bucket)`, one connection per held turn."""

    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self.key = namespace(name)

    def try_take(self, bucket: int) -> AdvisoryTurn | None:
        """Take the bucket's lock without waiting; None if another session holds it."""
        # A session lock is re-entrant within its session, so each turn needs its own
        # connection: two shards of one process must wait for each other too.
        try:
            connection = psycopg.connect(
                self._url, autocommit=True, connect_timeout=CONNECT_SECONDS
            )
        except psycopg.OperationalError as error:
            # The URL may hold a password: name the problem, never the URL.
            first = (str(error).strip().splitlines() or ["unreachable"])[0][:200]
            raise ConfigError(
                f"VERBATIM_DATABASE_URL: cannot connect to the database ({first})"
            ) from None
        try:
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (self.key, int(bucket))
            ).fetchone()
        except BaseException:
            connection.close()
            raise
        if row is None or not row[0]:
            connection.close()
            return None
        return AdvisoryTurn(connection)
