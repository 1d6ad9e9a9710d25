"""Split sentences for another process: pickled batches of documents in, their sentences out."""

from __future__ import annotations

import pickle
import sys
import time
from typing import BinaryIO

from index.text.windows import Sentence, split_sentences

# Between replies the worker says how many characters it has split, about this often, so that
# one large document (30 MB takes minutes) shows progress while it is split.
PROGRESS_SECONDS = 1.0


class _Reporter:
    """Send ("progress", characters) messages at most every PROGRESS_SECONDS."""

    def __init__(self, replies: BinaryIO) -> None:
        self.replies = replies
        self.pending = 0
        self.last = time.monotonic()

    def __call__(self, characters: int) -> None:
        self.pending += characters
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS:
            send(self.replies, ("progress", self.pending))
            self.pending, self.last = 0, now


def send(replies: BinaryIO, message: tuple[str, object]) -> None:
    """Write one message to the caller."""
    pickle.dump(message, replies, protocol=pickle.HIGHEST_PROTOCOL)
    replies.flush()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer each batch with its documents' sentences, in order, until the input ends."""
    reporter = _Reporter(replies)
    while True:
        try:
            params, documents = pickle.load(requests)
        except EOFError:
            return
        result: list[list[Sentence]] = [split_sentences(d, params, reporter) for d in documents]
        reporter.pending = 0  # the reply counts the whole batch
        send(replies, ("sentences", result))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
