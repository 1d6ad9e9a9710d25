"""Hybrid retrieval: the top rows of dense FAISS and of BM25, standardised, then blended."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from index.retrieval.backend import SearchBackend, TermStatistics
from index.retrieval.encoder import Encoder
from index.retrieval.ranked import Ranked, Rows, Scores
from index.text.analyser import terms

# Measured on SQuAD dev (docs/benchmarks.md): a weighted blend of standardised scores
# beats reciprocal-rank fusion, which throws the score margins away.
DENSE_WEIGHT = 0.45
STATS_DEPTH = 100
# Rows taken from each side before fusion. Their union is scored exactly on both sides, so
# a row is missed only if it ranks below this depth on both: the fused top 200 that answers
# draw from never needed more in the SQuAD benchmark (same R@1/R@5 as scoring every row).
DENSE_DEPTH = 400
KEYWORD_DEPTH = 400
QUERY_CACHE_SIZE = 512
# The store's own view type, so that callers keep its row-to-document calls.
B = TypeVar("B", bound=SearchBackend)
T = TypeVar("T")
U = TypeVar("U")
# Threads that run a question's requests to a database while the asking thread runs one of its
# own: the dense side, and a large Postgres view's other BM25 row range (two a question, for
# two engine threads). A question waits for a free one rather than opening more connections.
SIDE_THREADS = 4
_side = ThreadPoolExecutor(max_workers=SIDE_THREADS, thread_name_prefix="store-side")


def side_by_side(
    backend: SearchBackend, first: Callable[[], T], second: Callable[[], U]
) -> tuple[T, U]:
    """Run two requests of a store, at once where its requests are round trips."""
    # At 200k windows in Postgres each side is 20-45 ms of the server's time: run together, a
    # question waits for the slower (docs/benchmarks.md). A local store's sides share its cores.
    if not backend.concurrent:
        return first(), second()
    pending = _side.submit(first)
    later = second()
    return pending.result(), later


def at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run a store's requests side by side, the last in this thread; return results in order."""
    pending = [_side.submit(call) for call in calls[:-1]]
    last = calls[-1]()
    return [future.result() for future in pending] + [last]


class Standard:
    """Centre and scale by the mean and spread of a ranked list's best `depth` scores."""

    def __init__(self, ranked: Scores, depth: int = STATS_DEPTH) -> None:
        top = ranked[:depth]
        self.mean = float(top.mean()) if top.size else 0.0
        spread = float(top.std()) if top.size else 0.0
        self.spread = spread if spread >= 1e-6 else 0.0

    def __call__(self, scores: Scores) -> Scores:
        if not self.spread:
            return np.zeros_like(scores)
        return ((scores - self.mean) / self.spread).astype(np.float32)


def standardise(scores: Scores, depth: int = STATS_DEPTH) -> Scores:
    """Centre and scale scores by the mean and spread of the best `depth` of them."""
    if scores.size == 0:
        return scores
    depth = min(depth, scores.size)
    top = np.partition(scores, scores.size - depth)[scores.size - depth :]
    return Standard(top, depth)(scores)


@dataclass(frozen=True)
class Hits:
    """The candidate rows of one query, best first, with their fused, dense and BM25 scores."""

    rows: Rows
    fused: Scores
    dense: Scores
    keyword: Scores
    query: Query

    def fused_at(self, rows: Rows) -> Scores:
        """Return the fused score of any rows (candidates or not), exactly."""
        return self.query.fused_at(np.asarray(rows, dtype=np.int64))


# Rows a query keeps exact scores of; a larger ask (every row, for a benchmark) is not kept.
SCORED_CACHE_ROWS = 20_000


class Query:
    """One question's vector, terms and standardisation, able to score any row exactly."""

    def __init__(
        self,
        backend: SearchBackend,
        vector: NDArray[np.float32],
        query_terms: list[str],
        mode: str,
        *,
        depth: int | None = None,
    ) -> None:
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"unknown search mode {mode!r}")
        self.backend = backend
        self.vector = vector
        self.terms = query_terms
        self.mode = mode
        self.dense_ranked, self.keyword_ranked = side_by_side(
            backend,
            lambda: backend.dense_top(vector, depth or DENSE_DEPTH),
            lambda: backend.keyword_top(query_terms, depth or KEYWORD_DEPTH),
        )
        # The statistics come from the top lists, as they did from full arrays: only the best
        # 100 of each side ever entered them.
        self.dense_standard = Standard(self.dense_ranked.scores)
        self.keyword_standard = Standard(self.keyword_ranked.scores)
        self._scored: dict[int, tuple[float, float]] = {}
        # Scores a side already gave in its top list: the exact step then asks each side only
        # for the rows the other side found (at 200k windows in Postgres, half the look-ups).
        known = backend.exact_top_scores
        self._known_dense = _scores_of(self.dense_ranked) if known else {}
        self._known_keyword = _scores_of(self.keyword_ranked) if known else {}

    def _blend(self, dense: Scores, keyword: Scores) -> Scores:
        if self.mode == "dense":
            return dense
        if self.mode == "keyword":
            return keyword
        return (
            DENSE_WEIGHT * self.dense_standard(dense)
            + (1 - DENSE_WEIGHT) * self.keyword_standard(keyword)
        ).astype(np.float32)

    def _sides(self, rows: Rows) -> tuple[Scores, Scores]:
        """Score rows exactly on both sides, asking the store only for rows not scored yet."""
        # Quoting scores each candidate paragraph's rows in turn: in a database every ask of
        # the store is a round trip, so what was scored once (the union, a prefetch) is kept.
        wanted = np.asarray(rows, dtype=np.int64)
        if wanted.size > SCORED_CACHE_ROWS:
            return self._ask_both(wanted)
        listed = wanted.tolist()
        missing = [row for row in dict.fromkeys(listed) if row not in self._scored]
        if missing:
            dense_scores, keyword_scores = self._ask_both(np.asarray(missing, dtype=np.int64))
            dense, keyword = dense_scores.tolist(), keyword_scores.tolist()
            self._scored.update(zip(missing, zip(dense, keyword, strict=True), strict=True))
        pairs = [self._scored[row] for row in listed]
        return (
            np.asarray([d for d, _ in pairs], dtype=np.float32),
            np.asarray([k for _, k in pairs], dtype=np.float32),
        )

    def _ask_both(self, rows: Rows) -> tuple[Scores, Scores]:
        """Return the exact scores of rows on both sides, asking the store for those not known."""
        wanted = np.asarray(rows, dtype=np.int64)
        dense, dense_asked = _known_part(self._known_dense, wanted)
        keyword, keyword_asked = _known_part(self._known_keyword, wanted)
        dense[dense_asked], keyword[keyword_asked] = side_by_side(
            self.backend,
            lambda: _asked(lambda r: self.backend.dense_at(self.vector, r), wanted[dense_asked]),
            lambda: _asked(lambda r: self.backend.keyword_at(self.terms, r), wanted[keyword_asked]),
        )
        return dense, keyword

    def prefetch(self, rows: Rows) -> None:
        """Score rows ahead in one ask of the store, for the calls that follow one by one."""
        self._sides(rows)

    def fused_at(self, rows: Rows) -> Scores:
        """Return the fused score of the given rows."""
        return self._blend(*self._sides(rows))

    def hits(self) -> Hits:
        """Fuse the union of both sides' top rows, each scored exactly on both sides."""
        sides = {"dense": [self.dense_ranked], "keyword": [self.keyword_ranked]}
        chosen: list[Ranked] = sides.get(self.mode, [self.dense_ranked, self.keyword_ranked])
        rows = np.unique(np.concatenate([r.rows for r in chosen]))
        dense, keyword = self._sides(rows)
        fused = self._blend(dense, keyword)
        # Best first; ties keep row order, as a stable sort over all rows did.
        order = np.lexsort((rows, -fused))
        return Hits(rows[order], fused[order], dense[order], keyword[order], self)


def _asked(score: Callable[[Rows], Scores], rows: Rows) -> Scores:
    """Return a side's exact scores of rows, without a round trip when there are none."""
    return score(rows) if len(rows) else np.zeros(0, dtype=np.float32)


def _known_part(known: dict[int, float], rows: Rows) -> tuple[Scores, NDArray[np.bool_]]:
    """Return the scores known of rows (0 for the others) and which rows must still be asked."""
    listed = np.asarray(rows).tolist()
    scores = np.fromiter((known.get(row, 0.0) for row in listed), np.float32, len(listed))
    missing = np.fromiter((row not in known for row in listed), np.bool_, len(listed))
    return scores, missing


def _scores_of(ranked: Ranked) -> dict[int, float]:
    """Return a top list's scores by row."""
    return dict(zip(ranked.rows.tolist(), ranked.scores.tolist(), strict=True))


class HybridSearcher(Generic[B]):
    """Find a query's best rows with dense and keyword retrieval, without touching every row."""

    def __init__(self, backend: B, encoder: Encoder) -> None:
        self.backend = backend
        self.encoder = encoder
        self._query_cache: dict[str, NDArray[np.float32]] = {}
        self._cache_lock = threading.Lock()

    @property
    def size(self) -> int:
        return self.backend.size

    @property
    def term_weights(self) -> TermStatistics:
        return self.backend.term_statistics

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

    def vectors_at(self, rows: Rows) -> NDArray[np.float32]:
        """Return the stored vectors of some rows."""
        return self.backend.vectors_at(rows)

    def search(self, query: str, *, mode: str = "hybrid", depth: int | None = None) -> Hits:
        """Return the query's candidate rows; mode "dense" or "keyword" ranks by one signal."""
        # `depth` rows come from each side (default 400); depth=size scores every row, as
        # the benchmark does to check that the top-k lists lose nothing.
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"unknown search mode {mode!r}")
        vector = self.embed_query(query)
        return Query(self.backend, vector, terms(query), mode, depth=depth).hits()
