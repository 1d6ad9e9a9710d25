"""Small settings that a server keeps durably (its auto-answer channels, its page schedules)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

# A value is a JSON object; a change maps the value held to the value to keep.
State = dict[str, Any]
Change = Callable[[State], State]


class ServerStates(ABC):
    """Every server's small settings, each kept under a key ("autoanswer", "refresh", ...)."""

    @abstractmethod
    def location(self) -> str:
        """Say where the settings are kept, for messages."""

    @abstractmethod
    def read(self, tenant: str, key: str) -> State:
        """Return a server's value under `key`; an empty object if it has none."""

    @abstractmethod
    def update(self, tenant: str, key: str, change: Change) -> State:
        """Apply `change` to the value as one step that no other process interleaves; return it."""

    @abstractmethod
    def tenants(self, key: str) -> list[str]:
        """Return the servers whose value under `key` is not empty, in order."""
