"""What retrieval needs from a store of sentence windows, and the local FAISS + bm25s store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from index.retrieval.ranked import Ranked, Rows, Scores
from index.storage.local.dense import dense_at, dense_top, vectors_at
from index.storage.local.store import StoredIndex


class TermStatistics(Protocol):
    """Anything that weighs a term by its rarity."""

    def idf(self, term: str) -> float:
        """Return a term's inverse document frequency."""
        ...


class SearchBackend(Protocol):
    """A store of sentence windows that answers top-k and exact-score requests by row."""

    # Another store (OpenSearch, Qdrant, pgvector; see docs/scaling.md) is an adapter of this
    # shape; fusion, judging, quoting and the chunk table stay in the engine.

    @property
    def size(self) -> int:
        """Return the number of rows (sentence windows)."""
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


class LocalBackend:
    """The index folder's FAISS vectors and memory-mapped bm25s postings."""

    def __init__(self, index: StoredIndex) -> None:
        self.index = index

    @property
    def size(self) -> int:
        return self.index.size

    @property
    def term_statistics(self) -> TermStatistics:
        return self.index.term_weights

    def dense_top(self, query: NDArray[np.float32], k: int) -> Ranked:
        return dense_top(self.index.vectors, query, k)

    def keyword_top(self, query_terms: Sequence[str], k: int) -> Ranked:
        return self.index.keywords.top(query_terms, k)

    def dense_at(self, query: NDArray[np.float32], rows: Rows) -> Scores:
        return dense_at(self.index.vectors, query, rows)

    def keyword_at(self, query_terms: Sequence[str], rows: Rows) -> Scores:
        return self.index.keywords.scores_at(query_terms, rows)

    def vectors_at(self, rows: Rows) -> NDArray[np.float32]:
        return vectors_at(self.index.vectors, rows)
