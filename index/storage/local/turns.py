"""Turns on one host: an flock on a file per bucket in the data folder."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from index.errors import LockError


class FileTurn:
    """A held flock; closing its descriptor releases it, also when the process dies."""

    def __init__(self, handle: int) -> None:
        self._handle: int | None = handle

    def release(self) -> None:
        """Close the lock file, which releases the flock (once; later calls do nothing)."""
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None


class FileTurns:
    """One lock file per bucket, `<folder>/<name>-<bucket>.lock`, for every process on a host."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name

    def try_take(self, bucket: int) -> FileTurn | None:
        """Take the bucket's flock without waiting; None if another descriptor holds it."""
        path = self.folder / f"{self.name}-{int(bucket)}.lock"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise LockError(f"cannot create the lock file {path} ({error.strerror})") from None
        try:
            # Each open file has its own flock, so two shards of one process wait for each
            # other as two processes do.
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return None
        except OSError as error:
            os.close(handle)
            raise LockError(f"cannot lock {path} ({error.strerror})") from None
        return FileTurn(handle)
