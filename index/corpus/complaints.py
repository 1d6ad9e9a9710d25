"""Hold back what a reading library logs about a file, so that it can be said naming the file."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders: Counter[str] = Counter()

# pypdf's complaints about a damaged file, in words that say what is wrong with it.
_PDF_WORDS = (
    ("invalid pdf header", "it does not begin with a PDF header"),
    ("EOF marker not found", "it has no end-of-file marker, so it may be cut short"),
    (
        "CAUTION: startxref found while searching",
        "it has no end-of-file marker, so it may be cut short",
    ),
    ("incorrect startxref pointer", "its table of objects is damaged and was rebuilt"),
    ("parsing for Object Streams", "its table of objects is damaged and was rebuilt"),
)


class _ThreadRecords(logging.Handler):
    """Collect the messages one thread logs; other threads' records are not about its file."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def held_back(logger_name: str) -> Iterator[list[str]]:
    """Collect the warnings a library logs on this thread meanwhile, instead of printing them."""
    messages: list[str] = []
    handler = _ThreadRecords(messages)
    logger = logging.getLogger(logger_name)
    with _lock:
        logger.addHandler(handler)
        _holders[logger_name] += 1
        # Only this module turns propagation off, so it is back on once nobody holds the logger.
        logger.propagate = False
    try:
        yield messages
    finally:
        with _lock:
            logger.removeHandler(handler)
            _holders[logger_name] -= 1
            if not _holders[logger_name]:
                logger.propagate = True


def pdf_complaints(messages: list[str]) -> list[str]:
    """Reword pypdf's messages about a damaged file, each once, in the order first seen."""
    said: list[str] = []
    for message in messages:
        words = next(
            (ours for theirs, ours in _PDF_WORDS if message.startswith(theirs)),
            f"the PDF reader reports “{message}”",
        )
        if words not in said:
            said.append(words)
    return said
