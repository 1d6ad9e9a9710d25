"""One writer at a time per index folder: an inter-process lock file beside the index."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import LockError, LockTimeout

LOCK_NAME = ".lock"
POLL_SECONDS = 0.2
log = logging.getLogger(__name__)


@contextmanager
def writer_lock(folder: Path, *, timeout: float) -> Iterator[None]:
    """Hold the folder's exclusive lock, waiting up to `timeout` seconds with a message."""
    if folder.exists() and not folder.is_dir():
        raise LockError(f"{folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise LockError(f"cannot create the lock file in {folder} ({_reason(error)})") from None
    try:
        _acquire(handle, folder, timeout)
        yield
    finally:
        # Closing the descriptor releases the lock, also when the process dies.
        os.close(handle)


def _acquire(handle: int, folder: Path, timeout: float) -> None:
    """Take the flock, polling so that the wait is bounded and announced once."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if announced:
                log.warning("Got the lock on %s; continuing", folder)
            return
        except BlockingIOError:
            pass
        except OSError as error:
            raise LockError(f"cannot lock {folder} ({_reason(error)})") from None
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another process is writing the index in {folder} "
                f"(waited {timeout:.0f} s; see VERBATIM_LOCK_TIMEOUT)"
            )
        if not announced:
            log.warning(
                "Another process is writing the index in %s; waiting up to %.0f s for it",
                folder,
                timeout,
            )
            announced = True
        time.sleep(POLL_SECONDS)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
