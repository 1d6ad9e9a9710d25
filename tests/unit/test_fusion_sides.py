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

    def __init__(self, view: Any, concurrent: bool) -> None:
        self._view = view
        self._concurrent = concurrent
        self.threads: dict[str, set[str]] = {}
        # Each pair of sides meets here: asked one after the other, the first would wait alone.
        self._meeting = threading.Barrier(2, timeout=60) if concurrent else None

    @property
    def concurrent(self) -> bool:
        return self._concurrent

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
        return self._view.dense_at(query, rows)  # type: ignore[no-any-return]

    def keyword_at(self, query_terms: Sequence[str], rows: Rows) -> Scores:
        self._met("keyword_at")
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
