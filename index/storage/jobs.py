"""What indexing jobs need from a store: a queue that any process may put to and claim from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

JobKind = Literal["add", "remove", "reindex", "refresh"]
JobState = Literal["queued", "running", "done", "failed"]
KINDS: tuple[JobKind, ...] = ("add", "remove", "reindex", "refresh")
# Claims of one job that may end with its worker gone (killed, out of memory) before it fails.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Job:
    """One change to a server's documents, as its row says now."""

    id: int
    tenant: str
    kind: JobKind
    payload: Mapping[str, Any]
    state: JobState
    attempts: int
    worker: str | None = None
    progress: Mapping[str, Any] | None = None
    result: Mapping[str, Any] | None = None
    error: str | None = None
    # The uploaded file: only a claimed job carries it (polling for progress never reads it).
    data: bytes | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class ClaimedJob(ABC):
    """A job this worker holds: its lease renewed and its server's lock held until closed."""

    job: Job

    @property
    @abstractmethod
    def lost(self) -> bool:
        """Whether the claim was lost (its row is no longer this worker's, or the lock is gone)."""

    @abstractmethod
    def progress(self, phase: str, done: int = 0, total: int = 0, line: str = "") -> None:
        """Write how far the job has got to its row (`line`: the same said in words)."""

    @abstractmethod
    def finish(self, result: Mapping[str, Any]) -> bool:
        """Mark the job done with its result and let it go; False if the claim was lost."""

    @abstractmethod
    def fail(self, error: str) -> bool:
        """Mark the job failed with a one-line reason and let it go; False if the claim was lost."""

    @abstractmethod
    def hand_back(self) -> None:
        """Put the job back in the queue for another worker, and let it go."""

    @abstractmethod
    def close(self) -> None:
        """Let the job go as it stands, like a worker that died: its lease then runs out."""

    def __enter__(self) -> ClaimedJob:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class JobQueue(ABC):
    """Indexing jobs in order; a server's jobs run one at a time, in the order they were put."""

    @abstractmethod
    def put(
        self,
        tenant: str,
        kind: JobKind,
        payload: Mapping[str, Any],
        data: bytes | None = None,
    ) -> int:
        """Queue a job and return its id."""

    @abstractmethod
    def get(self, job_id: int) -> Job | None:
        """Return the job's row as it is now (without its file), or None if there is none."""

    @abstractmethod
    def claim(self, worker: str) -> ClaimedJob | None:
        """Take the oldest job whose server no other worker is changing, or None if none."""

    @abstractmethod
    def prune(self, older_than_days: float) -> int:
        """Delete the jobs finished that long ago; return how many."""
