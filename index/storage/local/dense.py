"""The dense side: a FAISS index chosen by corpus size, with top-k and exact scores for rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import faiss
import numpy as np
from numpy.typing import NDArray

from index.retrieval.ranked import EMPTY, Ranked, Rows, Scores, best_first

# Exact search scans every row: about 1 ms per 10k windows of 384 dimensions on 2 cores.
# Above this many windows a graph (HNSW) answers in near-constant time at a small recall cost.
HNSW_MIN_ROWS = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 128
# HNSW adds in parallel within a batch; tiny batches would leave a core idle.
HNSW_ADD_BATCH = 16_384
# One question is searched on one core: FAISS's threads for a single query cost more in
# start-up and contention than they save (1 ms against 3-9 ms for 10k windows on 2 cores).
# Set per call and restored, never at import: FAISS and torch share the OpenMP runtime, and
# a process-wide 1 would also halve the verifier's speed.
SEARCH_THREADS = 1


@contextmanager
def omp_threads(count: int) -> Iterator[None]:
    """Run FAISS with `count` OpenMP threads in this thread, then restore the setting."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class DenseKind(NamedTuple):
    """Which FAISS index holds the vectors; recorded in the manifest."""

    kind: str  # "flat" (exact inner product) or "hnsw"
    neighbours: int = 0
    ef_construction: int = 0
    ef_search: int = 0

    @classmethod
    def for_rows(cls, rows: int, *, hnsw_min_rows: int = HNSW_MIN_ROWS) -> DenseKind:
        """Choose exact search for small corpora and HNSW for large ones."""
        if rows < hnsw_min_rows:
            return cls("flat")
        return cls("hnsw", HNSW_NEIGHBOURS, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH)

    @classmethod
    def of(cls, index: Any) -> DenseKind:
        """Describe an existing FAISS index."""
        if isinstance(index, faiss.IndexHNSW):
            hnsw = index.hnsw
            return cls("hnsw", HNSW_NEIGHBOURS, int(hnsw.efConstruction), int(hnsw.efSearch))
        return cls("flat")

    def create(self, dimension: int) -> Any:
        """Return an empty index of this kind for unit vectors (inner product = cosine)."""
        if self.kind == "flat":
            return faiss.IndexFlatIP(dimension)
        index = faiss.IndexHNSWFlat(dimension, self.neighbours, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        return index


class DenseBuilder:
    """Add vectors in row order, buffering for HNSW, without a Python list of all of them."""

    def __init__(self, kind: DenseKind, dimension: int) -> None:
        self.kind = kind
        self.index = kind.create(dimension)
        self._pending: list[NDArray[np.float32]] = []
        self._pending_rows = 0

    def add(self, vectors: NDArray[np.float32]) -> None:
        """Append vectors for the next rows."""
        if not len(vectors):
            return
        if self.kind.kind == "flat":
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            return
        self._pending.append(np.asarray(vectors, dtype=np.float32))
        self._pending_rows += len(vectors)
        if self._pending_rows >= HNSW_ADD_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            with omp_threads(os.cpu_count() or 1):
                self.index.add(np.ascontiguousarray(np.vstack(self._pending)))
        self._pending, self._pending_rows = [], 0

    def finish(self) -> Any:
        """Return the FAISS index holding every vector added."""
        self._flush()
        return self.index


def dense_top(index: Any, query: NDArray[np.float32], k: int) -> Ranked:
    """Return the `k` nearest rows by cosine."""
    k = min(k, int(index.ntotal))
    if k <= 0:
        return EMPTY
    vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    if isinstance(index, faiss.IndexHNSW):
        # The search list must be at least as long as the answer wanted; passed per call, so
        # concurrent questions never change each other's setting.
        ef = max(HNSW_EF_SEARCH, k)
        params = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]  # absent from faiss's stubs
        with omp_threads(SEARCH_THREADS):
            values, rows = index.search(vector, k, params=params)
    else:
        with omp_threads(SEARCH_THREADS):
            values, rows = index.search(vector, k)
    found = rows[0] >= 0
    return best_first(rows[0][found].astype(np.int64), values[0][found].astype(np.float32), k)


def vectors_at(index: Any, rows: Rows) -> NDArray[np.float32]:
    """Return the stored vectors of the given rows."""
    if not len(rows):
        return np.zeros((0, int(index.d)), dtype=np.float32)
    found = np.asarray(index.reconstruct_batch(np.asarray(rows, dtype=np.int64)))
    return found.reshape(len(rows), -1).astype(np.float32)


def dense_at(index: Any, query: NDArray[np.float32], rows: Rows) -> Scores:
    """Return the exact cosine of each given row."""
    return (vectors_at(index, rows) @ np.asarray(query, dtype=np.float32).reshape(-1)).astype(
        np.float32
    )
