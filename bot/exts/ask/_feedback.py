"""Record 👍/👎 on answers to a local JSON-lines file, private and bounded in size."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from index import Answer

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# The file holds Discord user ids: readable by the bot's own user only.
FILE_MODE = 0o600
log = logging.getLogger(__name__)


class FeedbackLog:
    """Append one JSON object per vote; rotate to `NAME.1` at `max_bytes`; thread-safe."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @property
    def rotated(self) -> Path:
        """Return where the previous, full file is kept (only one: older votes are dropped)."""
        return self.path.with_name(self.path.name + ".1")

    def record(self, answer: Answer, *, user_id: int, helpful: bool) -> None:
        """Store a vote with the question and the passages it was about; raise OSError if not."""
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": user_id,
            "helpful": helpful,
            "question": answer.question,
            "answered": answer.answered,
            "quotes": [{"document": q.document, "paragraph": q.paragraph} for q in answer.quotes],
        }
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
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
