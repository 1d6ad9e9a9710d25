"""A server's small settings as JSON files in its folder: state/<key>.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from index.errors import IndexWriteError
from index.storage.local.locking import writer_lock
from index.storage.local.shelf import reason, write_file
from index.storage.state import Change, ServerStates, State

log = logging.getLogger(__name__)
STATE_FOLDER = "state"


class LocalStates(ServerStates):
    """One folder per server under the guilds root, as the shelves are."""

    def __init__(self, guilds_root: Path, *, lock_timeout: float = 30.0) -> None:
        self.root = guilds_root
        self.lock_timeout = lock_timeout

    def location(self) -> str:
        return str(self.root)

    def _file(self, tenant: str, key: str) -> Path:
        return self.root / tenant / STATE_FOLDER / f"{key}.json"

    def read(self, tenant: str, key: str) -> State:
        return _load(self._file(tenant, key))

    def update(self, tenant: str, key: str, change: Change) -> State:
        path = self._file(tenant, key)
        # The lock spans read and write: two processes turning on two channels keep both.
        with writer_lock(path.parent, timeout=self.lock_timeout):
            value = change(_load(path))
            try:
                write_file(path, json.dumps(value, sort_keys=True).encode("utf-8"))
            except OSError as error:
                raise IndexWriteError(f"cannot save {path}: {reason(error)}") from None
        return value

    def tenants(self, key: str) -> list[str]:
        if not self.root.is_dir():
            return []
        held = (path.parent.parent.name for path in self.root.glob(f"*/{STATE_FOLDER}/{key}.json"))
        return sorted(tenant for tenant in held if self.read(tenant, key))


def _load(path: Path) -> State:
    """Read a settings file; a missing or damaged one reads as empty (a damaged one is logged)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        # A damaged file must not stop answering; the next change writes a whole one again.
        log.warning("Ignoring %s, which cannot be read (%s)", path, error)
        return {}
    return value if isinstance(value, dict) else {}
