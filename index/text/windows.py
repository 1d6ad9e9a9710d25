"""Cut documents into sentence windows: small units to embed, mapped back to exact offsets."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from index.corpus.documents import Document
from index.text.segmentation import sentence_spans

MAX_SENTENCE_CHARS = 600


class ChunkerParams(NamedTuple):
    """What decides the chunks; part of the manifest, so a change forces a rebuild."""

    window: int = 1
    max_sentence_chars: int = MAX_SENTENCE_CHARS
    title_prefix: bool = True
    version: int = 1


DEFAULT_PARAMS = ChunkerParams()


class Sentence(NamedTuple):
    """One sentence of a document: its paragraph (1-based) and exact offsets."""

    paragraph: int
    start: int
    end: int


def _fingerprint(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().casefold()


def _cap(span: tuple[int, int], text: str, limit: int) -> list[tuple[int, int]]:
    """Split an over-long sentence at whitespace so no unit outgrows the model's window."""
    start, end = span
    pieces = []
    while end - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        cut = cut if cut > start else start + limit
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces


def split_sentences(
    document: Document,
    params: ChunkerParams = DEFAULT_PARAMS,
    on_paragraph: Callable[[int], None] | None = None,
) -> list[Sentence]:
    """Return the sentences to index, skipping any paragraph the document already had."""
    seen: set[str] = set()
    sentences = []
    for number, (start, end) in enumerate(document.paragraphs, start=1):
        if on_paragraph is not None:  # splitting a large file takes minutes: report progress
            on_paragraph(end - start)
        fingerprint = _fingerprint(document.text[start:end])
        if fingerprint in seen:  # a repeated paragraph is quoted once, at its first place
            continue
        seen.add(fingerprint)
        for span in sentence_spans(document.text, start, end):
            for piece_start, piece_end in _cap(span, document.text, params.max_sentence_chars):
                sentences.append(Sentence(number, piece_start, piece_end))
    return sentences


def window_bounds(sentences: Sequence[Sentence], window: int) -> list[tuple[int, int]]:
    """Return, for each sentence, the first and last sentence of its window, in its paragraph."""
    bounds = []
    for i, sentence in enumerate(sentences):
        lo = i
        while lo > 0 and i - lo < window and sentences[lo - 1].paragraph == sentence.paragraph:
            lo -= 1
        hi = i
        while (
            hi + 1 < len(sentences)
            and hi - i < window
            and sentences[hi + 1].paragraph == sentence.paragraph
        ):
            hi += 1
        bounds.append((lo, hi))
    return bounds


def window_spans(sentences: Sequence[Sentence], window: int) -> list[tuple[int, int]]:
    """Return each sentence's span widened by `window` neighbours each side, in its paragraph."""
    return [(sentences[lo].start, sentences[hi].end) for lo, hi in window_bounds(sentences, window)]


def unit_texts(
    document: Document, windows: Sequence[tuple[int, int]], params: ChunkerParams
) -> list[str]:
    """Return the texts to embed and keyword-index: each window, headed by the document title."""
    # A title header gives every window the document's context (contextual chunk headers).
    header = f"{document.title}\n" if params.title_prefix else ""
    return [header + document.text[start:end] for start, end in windows]


def paragraph_range(sentences: Sequence[Sentence], paragraph: int) -> range:
    """Return the indexes of the sentences in a paragraph (sentences run in paragraph order)."""
    lo = bisect.bisect_left(sentences, paragraph, key=lambda s: s.paragraph)
    hi = bisect.bisect_right(sentences, paragraph, key=lambda s: s.paragraph)
    return range(lo, hi)
