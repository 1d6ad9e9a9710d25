"""Choose the texts embedded for a run of windows, and turn their vectors into window vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from index.corpus.documents import Document
from index.retrieval.encoder import Vectors
from index.text.windows import ChunkerParams, Sentence, unit_texts

Bounds = Sequence[tuple[int, int]]


class Units(NamedTuple):
    """Texts to embed, and for each window the first and last of them that it averages."""

    texts: list[str]
    bounds: list[tuple[int, int]]


def window_units(
    document: Document,
    windows: Sequence[tuple[int, int]],
    start: int,
    stop: int,
    params: ChunkerParams,
    *,
    sentences: Sequence[Sentence] = (),
    sentence_bounds: Bounds = (),
) -> Units:
    """Return what to embed for windows start:stop: their texts, or their sentences once."""
    if not sentence_bounds:
        texts = unit_texts(document, windows[start:stop], params)
        return Units(texts, [(i, i) for i in range(len(texts))])
    chosen = sentence_bounds[start:stop]
    if not chosen:
        return Units([], [])
    # A slice takes the neighbours its first and last windows reach into, so a long document
    # embedded in slices repeats only those few sentences at each cut.
    first, last = chosen[0][0], max(hi for _, hi in chosen)
    spans = [(s.start, s.end) for s in sentences[first : last + 1]]
    texts = unit_texts(document, spans, params)
    return Units(texts, [(lo - first, hi - first) for lo, hi in chosen])


def compose(vectors: Vectors, bounds: Bounds) -> Vectors:
    """Return each window's vector: the unit-length mean of its texts' vectors."""
    if len(bounds) == len(vectors) and all(lo == hi == i for i, (lo, hi) in enumerate(bounds)):
        return vectors  # one text a window: its vector already is the window's
    if not len(bounds):
        return np.zeros((0, vectors.shape[1]), dtype=np.float32)
    totals = np.zeros((len(vectors) + 1, vectors.shape[1]), dtype=np.float64)
    np.cumsum(vectors, axis=0, dtype=np.float64, out=totals[1:])
    lows = np.fromiter((lo for lo, _ in bounds), dtype=np.int64, count=len(bounds))
    highs = np.fromiter((hi for _, hi in bounds), dtype=np.int64, count=len(bounds))
    sums = totals[highs + 1] - totals[lows]
    norms = np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(sums / norms, dtype=np.float32)


def shifted(bounds: Bounds, offset: int) -> list[tuple[int, int]]:
    """Return bounds moved by `offset` texts: where they lie in a longer list of texts."""
    return [(lo + offset, hi + offset) for lo, hi in bounds]
