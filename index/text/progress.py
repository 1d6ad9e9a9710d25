"""Report how far a long phase (reading, splitting, embedding...) has got, its rate, time left."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

log = logging.getLogger("index.text.progress")
# Seconds between log lines of one phase: a line every few seconds, never one per batch.
INTERVAL_SECONDS = 5.0
# Seconds between reports to a listener (the bot's progress edit, which rate-limits itself).
LISTENER_SECONDS = 1.0


class ProgressUpdate(NamedTuple):
    """Where one phase stands: counts, the rate so far and the time it has left."""

    phase: str
    done: int
    total: int
    unit: str
    # Units a second since the phase began; 0 before anything is done.
    rate: float
    # Seconds the phase has taken so far.
    elapsed: float
    # Seconds left at the rate so far; None while nothing is done yet to judge it by.
    left: float | None
    finished: bool = False

    @property
    def share(self) -> float:
        """Return the percentage done (100 for an empty phase)."""
        return 100.0 * self.done / self.total if self.total else 100.0

    def describe(self) -> str:
        """Say it in one line: "Embedding: 2,048/9,000 sentence windows (23%), 81/s, 26 s left"."""
        counts = f"{self.phase}: {self.done:,}/{self.total:,} {self.unit} ({self.share:.0f}%)"
        if self.finished:
            return f"{counts} in {duration(self.elapsed)}, {rate(self.rate)}"
        if self.left is None:
            return counts
        return f"{counts}, {rate(self.rate)}, {duration(self.left)} left"


ProgressListener = Callable[[ProgressUpdate], None]
_listener: contextvars.ContextVar[ProgressListener | None] = contextvars.ContextVar(
    "progress_listener", default=None
)


@contextlib.contextmanager
def reporting_to(listener: ProgressListener | None) -> Iterator[None]:
    """Send every phase started in this context (this thread) to `listener` as well as the log."""
    # A context variable, so that the stores, the splitter and the reader need no parameter
    # threaded through them, and a server's reindex never reports into another's reply.
    # None leaves the listener of an enclosing context in place.
    token = _listener.set(listener if listener is not None else _listener.get())
    try:
        yield
    finally:
        _listener.reset(token)


def rate(per_second: float) -> str:
    """Format a rate: "81/s", "2.5/s", "1,234/s"."""
    return f"{per_second:,.0f}/s" if per_second >= 10 else f"{per_second:.1f}/s"


def duration(seconds: float) -> str:
    """Format a duration for people: "42 s", "3 min 5 s", "2 h 46 min"."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


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
        clock: Callable[[], float] = time.monotonic,
        listener: ProgressListener | None = None,
    ) -> None:
        self.phase, self.total, self.unit = phase, total, unit
        self.level, self.interval, self.clock = level, interval, clock
        # The listener of the context this phase starts in, unless one is given.
        self.listener = listener if listener is not None else _listener.get()
        self.done = 0
        self._started = clock()
        self._logged = self._told = self._started
        self._tell(self.update())  # a reply shows the phase at once, before its first step

    def advance(self, amount: int) -> None:
        """Record `amount` more units done, logging if the interval has passed."""
        self.done += amount
        if self.done >= self.total:
            return  # finish() says it, with the duration
        now = self.clock()
        if now - self._logged >= self.interval:
            self._logged = now
            log.log(self.level, "%s", self.update(now).describe())
        if self.listener is not None and now - self._told >= LISTENER_SECONDS:
            self._told = now
            self._tell(self.update(now))

    def finish(self) -> None:
        """Log the phase as complete, with its duration and rate."""
        update = self.update(finished=True)
        log.log(self.level, "%s", update.describe())
        self._tell(update)

    def update(self, now: float | None = None, *, finished: bool = False) -> ProgressUpdate:
        """Return where the phase stands now."""
        elapsed = max(0.0, (self.clock() if now is None else now) - self._started)
        per_second = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / per_second if per_second > 0 else None
        return ProgressUpdate(
            self.phase, self.done, self.total, self.unit, per_second, elapsed, left, finished
        )

    def _tell(self, update: ProgressUpdate) -> None:
        if self.listener is not None:
            self.listener(update)


class Tracker:
    """Feed a Progress from (done, total) calls, for code below this stage (the corpus reader)."""

    def __init__(self, phase: str, unit: str, *, level: int = logging.INFO) -> None:
        self.phase, self.unit, self.level = phase, unit, level
        self.progress: Progress | None = None

    def __call__(self, done: int, total: int) -> None:
        """Count up to `done` of `total`, finishing the phase when all is done."""
        if self.progress is None:
            self.progress = Progress(self.phase, total, self.unit, level=self.level)
        elif self.progress.done >= self.progress.total:
            return  # finished already
        self.progress.advance(done - self.progress.done)
        if done >= total:
            self.progress.finish()
