"""Split text into sentences with exact character offsets."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_SPLIT_AFTER_CLOSING_QUOTE = re.compile(r"([.!?][”\"’'])\s+(?=[“\"‘'A-Z])")


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd  # imported lazily: building its rules takes a moment

    return pysbd.Segmenter(language="en", clean=False)


def _refine(span: tuple[int, int], text: str) -> list[tuple[int, int]]:
    """Split a span after a quotation that ends a sentence, which pysbd keeps joined."""
    start, end = span
    pieces = []
    for match in _SPLIT_AFTER_CLOSING_QUOTE.finditer(text, start, end):
        pieces.append((start, match.end(1)))
        start = match.end()
    pieces.append((start, end))
    return pieces


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences in text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for piece in _segmenter().segment(text[start:end]):
        stripped = piece.strip()
        if not stripped:
            continue
        found = text.find(stripped, cursor, end)
        if found < 0:  # pysbd altered the text; fall back to the rest as one sentence
            break
        spans.extend(_refine((found, found + len(stripped)), text))
        cursor = found + len(stripped)
    rest = text[cursor:end]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append((cursor + lead, cursor + len(rest.rstrip())))
    return spans
