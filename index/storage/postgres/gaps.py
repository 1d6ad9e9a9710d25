"""The gap log in Postgres: one table, every row under its server, expired rows deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from index.storage.rows import GapRow, GapTable


class PostgresGapTable(GapTable):
    """The `gaps` table (schema 4)."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def insert(self, tenant: str, row: GapRow) -> None:
        with self.pool.connection() as connection:
            connection.execute(
                "INSERT INTO gaps (tenant, at, kind, question, passages) "
                "VALUES (%s, %s, %s, %s, %s)",
                (tenant, row.at, row.kind, row.question, list(row.passages)),
            )

    def rows(self, tenant: str, *, since: datetime) -> list[GapRow]:
        with self.pool.connection() as connection:
            found = connection.execute(
                "SELECT at, kind, question, passages FROM gaps "
                "WHERE tenant = %s AND at >= %s ORDER BY at, id",
                (tenant, since),
            ).fetchall()
        return [
            GapRow(at, kind, question, tuple(passages)) for at, kind, question, passages in found
        ]

    def delete(self, tenant: str, *, before: datetime | None = None) -> int:
        with self.pool.connection() as connection:
            if before is None:
                cursor = connection.execute("DELETE FROM gaps WHERE tenant = %s", (tenant,))
            else:
                cursor = connection.execute(
                    "DELETE FROM gaps WHERE tenant = %s AND at < %s", (tenant, before)
                )
            return int(cursor.rowcount)
