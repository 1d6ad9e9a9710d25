"""A store whose requests are round trips gets both sides of a question asked at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from index import Engine
from index.retrieval.backend import TermStatistics
from index.retrieval.fusion import HybridSearcher
from index.retrieval.ranked import Ranked, Rows, Scores
from tests.support.hashing_encoder import HashingEncoder
from tests.unit.test_scale_index import hashed_engine
from tests.unit.test_store import make_corpus

QUESTION = "Who did Litvinenko meet in London?"


class RoundTrips:
    """A real store's view that says its requests are round trips and records their threads."""

    def __init__(self, view: Any, concurrent: bool, *, exact_top_scores: bool = False) -> None:
        self._view = view
        self._concurrent = concurrent
        self._exact_top_scores = exact_top_scores
        self.threads: dict[str, set[str]] = {}
        self.asked: dict[str, list[int]] = {}
        # Each pair of sides meets here: asked one after the other, the first would wait alone.
        self._meeting = threading.Barrier(2, timeout=60) if concurrent else None

    @property
    def concurrent(self) -> bool:
        return self._concurrent

    @property
    def exact_top_scores(self) -> bool:
        return self._exact_top_scores

    @property
    def size(self) -> int:
        return int(self._view.size)

    @property
    def term_statistics(self) -> TermStatistics:
        return self._view.term_statistics  # type: ignore[no-any-return]

    def vectors_at(self, rows: Rows) -> NDArray[np.float32]:
        return self._view.vectors_at(rows)  # type: ignore[no-any-return]

    def _met(self, name: str) -> None:
        self.threads.setdefault(name, set()).add(threading.current_thread().name)
        if self._meeting is not None:
            self._meeting.wait()

    def dense_top(self, query: NDArray[np.float32], k: int) -> Ranked:
        self._met("dense_top")
        return self._view.dense_top(query, k)  # type: ignore[no-any-return]

    def keyword_top(self, query_terms: Sequence[str], k: int) -> Ranked:
        self._met("keyword_top")
        return self._view.keyword_top(query_terms, k)  # type: ignore[no-any-return]

    def dense_at(self, query: NDArray[np.float32], rows: Rows) -> Scores:
        self._met("dense_at")
        self.asked.setdefault("dense_at", []).extend(np.asarray(rows).tolist())
        return self._view.dense_at(query, rows)  # type: ignore[no-any-return]

    def keyword_at(self, query_terms: Sequence[str], rows: Rows) -> Scores:
        self._met("keyword_at")
        self.asked.setdefault("keyword_at", []).extend(np.asarray(rows).tolist())
        return self._view.keyword_at(query_terms, rows)  # type: ignore[no-any-return]


def _engine(tmp_path: Path) -> tuple[Engine, HashingEncoder]:
    make_corpus(tmp_path)
    return hashed_engine(tmp_path)


def test_a_round_trip_store_is_asked_both_sides_at_once_and_fuses_alike(tmp_path: Path) -> None:
    engine, encoder = _engine(tmp_path)
    expected = engine.searcher.search(QUESTION)
    store = RoundTrips(engine.searcher.backend, concurrent=True)
    # Each pair of requests waits at a barrier of two: asked in turn, the first would time out.
    hits = HybridSearcher(store, encoder).search(QUESTION)
    assert hits.rows.tolist() == expected.rows.tolist()
    assert np.array_equal(hits.fused, expected.fused)
    asking = threading.current_thread().name
    assert store.threads["keyword_top"] == {asking}
    assert store.threads["dense_top"] and asking not in store.threads["dense_top"]
    assert asking not in store.threads["dense_at"] and store.threads["keyword_at"] == {asking}


def test_a_local_store_is_asked_in_turn_on_the_asking_thread(tmp_path: Path) -> None:
    engine, encoder = _engine(tmp_path)
    store = RoundTrips(engine.searcher.backend, concurrent=False)
    HybridSearcher(store, encoder).search(QUESTION)
    asking = threading.current_thread().name
    assert set(store.threads) == {"dense_top", "keyword_top", "dense_at", "keyword_at"}
    assert all(threads == {asking} for threads in store.threads.values())
    assert engine.searcher.backend.concurrent is False


def test_with_exact_top_scores_each_side_is_asked_only_for_the_other_sides_rows(
    tmp_path: Path,
) -> None:
    engine, encoder = _engine(tmp_path)
    expected = engine.searcher.search(QUESTION)
    store = RoundTrips(engine.searcher.backend, concurrent=False, exact_top_scores=True)
    query = HybridSearcher(store, encoder).search(QUESTION).query
    dense_top = set(query.dense_ranked.rows.tolist())
    keyword_top = set(query.keyword_ranked.rows.tolist())
    assert dense_top - keyword_top, "some rows should be found by the dense side alone"
    # Here the dense side found every keyword row too: it is not asked again at all.
    assert set(store.asked.get("dense_at", [])) == keyword_top - dense_top
    assert set(store.asked["keyword_at"]) == dense_top - keyword_top
    # The same candidates, scored alike: a top list's scores are the exact ones.
    hits = query.hits()
    assert sorted(hits.rows.tolist()) == sorted(expected.rows.tolist())
    by_row = dict(zip(expected.rows.tolist(), expected.fused.tolist(), strict=True))
    assert np.allclose(hits.fused, [by_row[r] for r in hits.rows.tolist()], atol=1e-5)
