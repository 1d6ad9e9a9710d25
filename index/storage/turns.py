"""Turns taken across processes: one holder per bucket at a time, held as long as it likes."""

from __future__ import annotations

from typing import Protocol


class Turn(Protocol):
    """One bucket's turn, held until released (or until the process holding it dies)."""

    def release(self) -> None:
        """Give the turn back, so that the next process may take it."""
        ...


class Turns(Protocol):
    """Buckets that at most one holder, in any process that shares the store, has at a time."""

    def try_take(self, bucket: int) -> Turn | None:
        """Take the bucket's turn at once and return it, or None if another holds it."""
        ...
