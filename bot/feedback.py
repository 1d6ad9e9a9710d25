"""Record 👍/👎 on answers to a local JSON-lines file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from index import Answer


class FeedbackLog:
    """Append one JSON object per vote; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, answer: Answer, *, user_id: int, helpful: bool) -> None:
        """Store a vote with the question and the passages it was about."""
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": user_id,
            "helpful": helpful,
            "question": answer.question,
            "answered": answer.answered,
            "quotes": [{"document": q.document, "paragraph": q.paragraph} for q in answer.quotes],
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
