"""Tables of plain rows that a stage above storage keeps per server (the gap log)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import NamedTuple


class GapRow(NamedTuple):
    """One unanswered question as a table keeps it: no user id."""

    at: datetime
    kind: str
    question: str
    passages: tuple[str, ...]


class GapTable(ABC):
    """Every server's unanswered questions in one table, each row under its server."""

    @abstractmethod
    def insert(self, tenant: str, row: GapRow) -> None:
        """Keep one row."""

    @abstractmethod
    def rows(self, tenant: str, *, since: datetime) -> list[GapRow]:
        """Return a server's rows from a time on, oldest first."""

    @abstractmethod
    def delete(self, tenant: str, *, before: datetime | None = None) -> int:
        """Drop a server's rows (those before a time, if given); return how many."""
