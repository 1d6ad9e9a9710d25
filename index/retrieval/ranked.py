"""Rows and their scores: the plain values every side of retrieval passes around."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

Rows = NDArray[np.int64]
Scores = NDArray[np.float32]


class Ranked(NamedTuple):
    """Rows and their scores, best first."""

    rows: Rows
    scores: Scores


EMPTY = Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def best_first(rows: Rows, scores: Scores, k: int) -> Ranked:
    """Keep the `k` best rows, ordered by score and then by row (so ties are deterministic)."""
    if rows.size > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))
    return Ranked(rows[order].astype(np.int64), scores[order].astype(np.float32))
