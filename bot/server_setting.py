"""One key of every server's stored settings, read through a short cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from index import ServerStates

# Another process's change (a shard's, the command line's) is seen within this long;
# this process's own at once.
CACHE_SECONDS = 30.0

Change = Callable[[dict[str, Any]], dict[str, Any]]


class ServerSetting:
    """A setting kept per server (auto-answer channels, channel documents), cached briefly."""

    def __init__(
        self,
        states: ServerStates,
        key: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.states, self.key, self.clock = states, key, clock
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def cached(self, guild_id: int) -> dict[str, Any] | None:
        """Return the server's value if read recently, without touching the store."""
        with self._lock:
            found = self._cache.get(guild_id)
        if found is None or self.clock() - found[0] >= CACHE_SECONDS:
            return None
        return found[1]

    def read(self, guild_id: int) -> dict[str, Any]:
        """Return the server's value, from the cache or else from the store."""
        found = self.cached(guild_id)
        if found is None:
            found = self.states.read(str(guild_id), self.key)
            self._remember(guild_id, found)
        return found

    def update(self, guild_id: int, change: Change) -> dict[str, Any]:
        """Change the server's value in the store, atomically, and return the new one."""
        changed = self.states.update(str(guild_id), self.key, change)
        self._remember(guild_id, changed)
        return changed

    def servers(self) -> list[str]:
        """Return the servers that hold a value."""
        return self.states.tenants(self.key)

    def _remember(self, guild_id: int, value: dict[str, Any]) -> None:
        with self._lock:
            self._cache[guild_id] = (self.clock(), value)
