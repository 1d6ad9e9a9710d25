"""What retrieval needs from a store of sentence windows: top-k lists and exact scores by row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from index.retrieval.ranked import Ranked, Rows, Scores


class TermStatistics(Protocol):
    """Anything that weighs a term by its rarity."""

    def idf(self, term: str) -> float:
        """Return a term's inverse document frequency."""
        ...


class SearchBackend(Protocol):
    """A store of sentence windows that answers top-k and exact-score requests by row."""

    # Each store (index/storage) provides this shape; fusion, judging and quoting stay shared.

    @property
    def size(self) -> int:
        """Return the number of rows (sentence windows)."""
        ...

    @property
    def concurrent(self) -> bool:
        """Say whether its requests gain from running side by side (each a database round trip)."""
        ...

    @property
    def exact_top_scores(self) -> bool:
        """Say whether a top list's scores are the very ones dense_at and keyword_at return."""
        ...

    @property
    def term_statistics(self) -> TermStatistics:
        """Return the term frequencies questions are weighed by."""
        ...

    def dense_top(self, query: NDArray[np.float32], k: int) -> Ranked:
        """Return the `k` rows nearest the query vector, best first."""
        ...

    def keyword_top(self, query_terms: Sequence[str], k: int) -> Ranked:
        """Return the `k` best BM25 rows for the analysed query terms, best first."""
        ...

    def dense_at(self, query: NDArray[np.float32], rows: Rows) -> Scores:
        """Return the exact cosine of the given rows."""
        ...

    def keyword_at(self, query_terms: Sequence[str], rows: Rows) -> Scores:
        """Return the exact BM25 score of the given rows."""
        ...

    def vectors_at(self, rows: Rows) -> NDArray[np.float32]:
        """Return the stored vectors of the given rows."""
        ...
