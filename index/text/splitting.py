"""Split documents into sentences, in a worker process while the model loads when there is much."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from index.corpus.documents import Document
from index.text.progress import Progress
from index.text.windows import ChunkerParams, Sentence, split_sentences

log = logging.getLogger(__name__)

# Below this many characters splitting takes well under a second, less than starting a worker.
WORKER_MIN_CHARS = 200_000
# Documents per message to the worker: few enough for steady progress, enough to amortise pickling.
DOCUMENTS_PER_MESSAGE = 16
# The folder that holds the `index` package, so the worker imports this very copy of it.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerFailed(Exception):
    """The splitting process could not start or stopped before answering."""


def split_documents(
    documents: Sequence[Document],
    params: ChunkerParams,
    *,
    meanwhile: Callable[[], object] | None = None,
    progress: Progress | None = None,
) -> list[list[Sentence]]:
    """Return each document's sentences, running `meanwhile` (a model load) alongside."""
    # pysbd is pure Python and a model load holds the GIL, so only a second process lets both
    # run at once; on a fresh build that hides most of the splitting's cost.
    if sum(characters(d) for d in documents) >= WORKER_MIN_CHARS:
        try:
            return _split_in_worker(documents, params, meanwhile, progress)
        except WorkerFailed as error:
            log.warning("Splitting sentences in this process instead: %s", error)
            if progress is not None:
                progress.done = 0  # count again from the start, at the caller's log level
    if meanwhile is not None:
        meanwhile()
    advance = progress.advance if progress is not None else None
    return [split_sentences(d, params, advance) for d in documents]


def characters(document: Document) -> int:
    """Return how many characters a document's paragraphs hold (what splitting reads)."""
    return sum(end - start for start, end in document.paragraphs)


def _batches(documents: Sequence[Document]) -> Iterator[list[Document]]:
    for start in range(0, len(documents), DOCUMENTS_PER_MESSAGE):
        yield list(documents[start : start + DOCUMENTS_PER_MESSAGE])


def _split_in_worker(
    documents: Sequence[Document],
    params: ChunkerParams,
    meanwhile: Callable[[], object] | None,
    progress: Progress | None,
) -> list[list[Sentence]]:
    # A plain subprocess rather than multiprocessing: that would re-import the caller's main
    # module in the child, which breaks scripts without a `__main__` guard.
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_ROOT, environment.get("PYTHONPATH")) if p
    )
    try:
        worker = subprocess.Popen(
            [sys.executable, "-m", "index.text.split_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
    except OSError as error:
        raise WorkerFailed(f"cannot start {sys.executable}: {error}") from None
    assert worker.stdin is not None and worker.stdout is not None
    # Requests are written from a thread: a worker blocked on a full reply pipe would otherwise
    # wait for us while we wait to write.
    writer = threading.Thread(
        target=_send, args=(worker.stdin, params, documents), name="split-requests", daemon=True
    )
    writer.start()
    # The model loads on a thread of its own, so that this one counts the worker's progress
    # meanwhile: a load takes seconds, minutes on a busy machine, and the lines must go on.
    loading = _Background(meanwhile)
    try:
        split: list[list[Sentence]] = []
        for batch in _batches(documents):
            reported = 0  # characters of this batch the worker has said it split
            while True:
                try:
                    kind, reply = pickle.load(worker.stdout)
                except (EOFError, pickle.UnpicklingError, TypeError, ValueError) as error:
                    raise WorkerFailed(f"the worker stopped ({error or 'no reply'})") from None
                if kind != "progress":
                    break
                reported += reply
                if progress is not None:
                    progress.advance(reply)
            split.extend(reply)
            if progress is not None:
                progress.advance(sum(characters(d) for d in batch) - reported)
        return split
    finally:
        worker.kill()  # done, or abandoned after a failure: nothing more is split in vain
        worker.wait()
        worker.stdout.close()
        writer.join()
        loading.join()  # raises what the load raised (a model that cannot load), if anything


class _Background:
    """Run a function on a thread now; join() waits for it and raises what it raised."""

    def __init__(self, work: Callable[[], object] | None) -> None:
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if work is not None:
            self.thread = threading.Thread(
                target=self._run, args=(work,), name="split-meanwhile", daemon=True
            )
            self.thread.start()

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as error:  # handed to the caller's thread by join()
            self.error = error

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


def _send(stream: BinaryIO, params: ChunkerParams, documents: Sequence[Document]) -> None:
    try:
        for batch in _batches(documents):
            pickle.dump((params, batch), stream, protocol=pickle.HIGHEST_PROTOCOL)
    except (BrokenPipeError, ValueError):  # the worker was stopped: nothing left to send
        pass
    finally:
        with contextlib.suppress(OSError):
            stream.close()
