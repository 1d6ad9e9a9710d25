"""A server's small settings in Postgres: one jsonb value per (server, key), schema 5."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from index.storage.state import Change, ServerStates, State


class PostgresStates(ServerStates):
    """The `server_state` table."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def location(self) -> str:
        return "the database's server_state table"

    def read(self, tenant: str, key: str) -> State:
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT value FROM server_state WHERE tenant = %s AND key = %s", (tenant, key)
            ).fetchone()
        return _value(row)

    def update(self, tenant: str, key: str, change: Change) -> State:
        with self.pool.connection() as connection, connection.transaction():
            # The row is created first, so that FOR UPDATE has a row to hold for a new key too.
            connection.execute(
                "INSERT INTO server_state (tenant, key, value) VALUES (%s, %s, '{}') "
                "ON CONFLICT DO NOTHING",
                (tenant, key),
            )
            row = connection.execute(
                "SELECT value FROM server_state WHERE tenant = %s AND key = %s FOR UPDATE",
                (tenant, key),
            ).fetchone()
            value = change(_value(row))
            connection.execute(
                "UPDATE server_state SET value = %s, updated_at = now() "
                "WHERE tenant = %s AND key = %s",
                (Jsonb(value), tenant, key),
            )
        return value

    def tenants(self, key: str) -> list[str]:
        with self.pool.connection() as connection:
            found = connection.execute(
                "SELECT tenant FROM server_state WHERE key = %s AND value <> '{}'::jsonb "
                "ORDER BY tenant",
                (key,),
            ).fetchall()
        return [str(tenant) for (tenant,) in found]


def _value(row: tuple[Any, ...] | None) -> State:
    """Return the object a row holds; none, or anything but an object, reads as empty."""
    return dict(row[0]) if row is not None and isinstance(row[0], dict) else {}
