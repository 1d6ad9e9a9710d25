"""One generation of the local store, read: FAISS and bm25s by row, rows to documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from index.results import SourceInfo
from index.retrieval.backend import TermStatistics
from index.retrieval.ranked import Ranked, Rows, Scores
from index.storage.base import IndexedDocument, RowPlace, listed
from index.storage.local.dense import dense_at, dense_top, vectors_at
from index.storage.local.files import StoredIndex


class LocalView:
    """The index folder's FAISS vectors and memory-mapped bm25s postings, with the row table."""

    def __init__(self, index: StoredIndex) -> None:
        self.index = index
        # Two small arrays (8 bytes a row) instead of a Python object per row.
        counts = [len(item.sentences) for item in index.documents]
        self._document_of_row: NDArray[np.int32] = np.repeat(
            np.arange(len(counts), dtype=np.int32), counts
        )
        firsts = np.repeat([item.first_row for item in index.documents], counts)
        self._sentence_of_row: NDArray[np.int32] = (np.arange(index.size) - firsts).astype(np.int32)
        self._listing: list[SourceInfo] | None = None

    @property
    def generation(self) -> int:
        return self.index.generation

    @property
    def documents(self) -> Sequence[IndexedDocument]:
        return self.index.documents

    @property
    def size(self) -> int:
        return self.index.size

    @property
    def term_statistics(self) -> TermStatistics:
        return self.index.term_weights

    def listing(self) -> Sequence[SourceInfo]:
        if self._listing is None:
            self._listing = [listed(item) for item in self.index.documents]
        return self._listing

    def describe(self) -> dict[str, Any]:
        """Return what the benchmarks report of the store: its dense index's kind."""
        return {"store": "local", "dense": self.index.dense_kind.kind}

    def place(self, row: int) -> RowPlace:
        position = int(self._document_of_row[row])
        return RowPlace(position, self.index.documents[position], int(self._sentence_of_row[row]))

    def document_positions(self, rows: Rows) -> NDArray[np.int32]:
        return np.asarray(self._document_of_row[rows], dtype=np.int32)

    def sentence_positions(self, rows: Rows) -> NDArray[np.int32]:
        return np.asarray(self._sentence_of_row[rows], dtype=np.int32)

    def read_ahead(self, positions: Sequence[int]) -> None:
        # The documents are in memory already.
        return None

    @property
    def concurrent(self) -> bool:
        # FAISS and bm25s run on this process's own cores: side by side they only contend.
        return False

    @property
    def exact_top_scores(self) -> bool:
        # FAISS's search and the exact scoring by row sum in other orders (last-bit differences),
        # and the union's exact scores are what the local figures were measured with.
        return False

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
