"""Hybrid retrieval: dense FAISS cosine and BM25, each standardised, then blended."""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from index.chunking import unit_texts
from index.embedding import Encoder
from index.lexical import KeywordIndex, TermWeights
from index.store import StoredIndex

Scores = NDArray[np.float32]

# Measured on SQuAD dev (docs/benchmarks.md): a weighted blend of standardised scores
# beats reciprocal-rank fusion, which throws the score margins away.
DENSE_WEIGHT = 0.45
STATS_DEPTH = 100
DENSE_DEPTH = 4000
QUERY_CACHE_SIZE = 512


class Hits(NamedTuple):
    """Per-row scores for one query; rows are sentence windows in index order."""

    fused: Scores
    dense: Scores
    keyword: Scores


def standardise(scores: Scores, depth: int = STATS_DEPTH) -> Scores:
    """Centre and scale scores by the mean and spread of the best `depth` of them."""
    if scores.size == 0:
        return scores
    depth = min(depth, scores.size)
    top = np.partition(scores, scores.size - depth)[scores.size - depth :]
    spread = float(top.std())
    if spread < 1e-6:
        return np.zeros_like(scores)
    return ((scores - float(top.mean())) / spread).astype(np.float32)


class HybridSearcher:
    """Score every indexed window for a query with dense and keyword retrieval."""

    def __init__(self, index: StoredIndex, encoder: Encoder) -> None:
        self.index = index
        self.encoder = encoder
        texts: list[str] = []
        doc_of_row: list[int] = []
        sentence_of_row: list[int] = []
        for position, item in enumerate(index.documents):
            texts.extend(unit_texts(item.document, item.windows, index.params))
            doc_of_row.extend([position] * len(item.sentences))
            sentence_of_row.extend(range(len(item.sentences)))
        self.keywords = KeywordIndex(texts)
        # Title words head every unit; weigh question terms by the sentences alone instead.
        self.term_weights = TermWeights(
            [
                item.document.text[sentence.start : sentence.end]
                for item in index.documents
                for sentence in item.sentences
            ]
        )
        self._query_cache: dict[str, NDArray[np.float32]] = {}
        self._cache_lock = threading.Lock()
        self.doc_of_row = np.asarray(doc_of_row, dtype=np.int32)
        self.sentence_of_row = np.asarray(sentence_of_row, dtype=np.int32)

    @property
    def size(self) -> int:
        return self.index.size

    def embed_query(self, query: str) -> NDArray[np.float32]:
        """Embed one query as a (1, dim) float32 array, reusing recent ones."""
        # "More quotes", summaries and repeated questions ask again; the model is the slow part.
        with self._cache_lock:
            cached = self._query_cache.get(query)
        if cached is not None:
            return cached
        vector = self.encoder.encode([query])
        with self._cache_lock:
            self._query_cache[query] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.pop(next(iter(self._query_cache)))
        return vector

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks time the model, not the cache)."""
        with self._cache_lock:
            self._query_cache.clear()

    def dense_scores(self, query_vector: NDArray[np.float32]) -> Scores:
        """Return the cosine of every row; rows beyond the search depth get the depth's floor."""
        scores = np.full(self.size, -1.0, dtype=np.float32)
        if not self.size:
            return scores
        depth = min(self.size, DENSE_DEPTH)
        values, rows = self.index.vectors.search(query_vector, depth)
        found = rows[0] >= 0
        scores[:] = float(values[0][found].min()) if found.any() else -1.0
        scores[rows[0][found]] = values[0][found]
        return scores

    def search(self, query: str, *, mode: str = "hybrid") -> Hits:
        """Score all rows for a query; mode "dense" or "keyword" ranks by one signal alone."""
        dense = self.dense_scores(self.embed_query(query))
        keyword = self.keywords.scores(query)
        if mode == "dense":
            fused = dense
        elif mode == "keyword":
            fused = keyword
        elif mode == "hybrid":
            fused = DENSE_WEIGHT * standardise(dense) + (1 - DENSE_WEIGHT) * standardise(keyword)
        else:
            raise ValueError(f"unknown search mode {mode!r}")
        return Hits(fused.astype(np.float32), dense, keyword)
