"""The BM25 parameters every store weighs by, so that both stores give the same scores."""

from __future__ import annotations

# The Lucene variant as bm25s computes it (Robertson's k1 and b at their usual values).
K1 = 1.2
B = 0.75
