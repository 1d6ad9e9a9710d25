"""The BM25 parameters every store weighs by, so that both stores give the same scores."""

from __future__ import annotations

import numpy as np

# The Lucene variant as bm25s computes it (Robertson's k1 and b at their usual values).
K1 = 1.2
B = 0.75


def idf(frequency: int, size: int) -> float:
    """Return the inverse document frequency of a term in `frequency` of `size` units."""
    return float(np.log(1.0 + (size - frequency + 0.5) / (frequency + 0.5)))
