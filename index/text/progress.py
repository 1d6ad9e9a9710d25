"""Log how far a long phase (sentence splitting, embedding) has got, every few seconds."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("index.text.progress")
INTERVAL_SECONDS = 5.0


class Progress:
    """Count work done and log it at most every `interval` seconds, and once at the end."""

    def __init__(
        self,
        phase: str,
        total: int,
        unit: str,
        *,
        level: int = logging.INFO,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self.phase, self.total, self.unit = phase, total, unit
        self.level, self.interval = level, interval
        self.done = 0
        self._started = time.monotonic()
        self._last = self._started

    def advance(self, amount: int) -> None:
        """Record `amount` more units done, logging if the interval has passed."""
        self.done += amount
        now = time.monotonic()
        if now - self._last >= self.interval and self.done < self.total:
            self._last = now
            self._log("")

    def finish(self) -> None:
        """Log the phase as complete, with its duration."""
        self._log(f" in {time.monotonic() - self._started:.1f} s")

    def _log(self, suffix: str) -> None:
        share = 100.0 * self.done / self.total if self.total else 100.0
        log.log(
            self.level,
            "%s: %d/%d %s (%.0f%%)%s",
            self.phase,
            self.done,
            self.total,
            self.unit,
            share,
            suffix,
        )
