"""Votes on answers in a local JSON-lines file, private and bounded in size."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from index.storage.shelf import FEEDBACK_MAX_BYTES, VoteLog

DEFAULT_MAX_BYTES = FEEDBACK_MAX_BYTES
# The file holds Discord user ids: readable by the bot's own user only.
FILE_MODE = 0o600
log = logging.getLogger(__name__)


class FeedbackFile(VoteLog):
    """Append one JSON object per vote; rotate to `NAME.1` at `max_bytes`; thread-safe."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def location(self) -> str:
        return str(self.path)

    @property
    def rotated(self) -> Path:
        """Return where the previous, full file is kept (only one: older votes are dropped)."""
        return self.path.with_name(self.path.name + ".1")

    def record(self, tenant: str, vote: Mapping[str, Any]) -> None:
        """Append a vote (the file is the bot's own, for every server: `tenant` is not kept)."""
        data = (json.dumps(dict(vote), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rotate_if_full(len(data))
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.fchmod(handle, FILE_MODE)  # also tighten a file created before this rule
                written = os.write(handle, data)
                if written != len(data):
                    raise OSError(f"short write to {self.path} ({written} of {len(data)} bytes)")
            finally:
                os.close(handle)

    def _rotate_if_full(self, adding: int) -> None:
        """Move a full file aside to `NAME.1` before this write would pass `max_bytes`."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if self.max_bytes and size + adding > self.max_bytes:
            os.replace(self.path, self.rotated)
            log.info("Feedback file reached %d bytes; moved it to %s", size, self.rotated)
