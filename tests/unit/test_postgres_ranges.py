"""A large Postgres view's BM25: its rows ranked in ranges at once, asked rows scored by term."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from index import Engine, EngineSettings, Library, prepare
from index.retrieval.fusion import at_once
from index.storage.postgres import view as views
from index.storage.postgres.view import Part, PostgresView, best_of, row_ranges
from index.text.analyser import terms
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder

T = TypeVar("T")

QUESTIONS = [
    "Who spoke with Shoigu?",
    "What did Lavrov say about the dirty bomb?",
    "Which countries issued the joint statement?",
    "Where are kiwis grown and what colour is their skin?",
    "How is tea brewed from the leaves?",
]


def test_row_ranges_cover_each_tenants_rows_once() -> None:
    parts = [Part("shared", 0, 10, 384, 10), Part("7", 10, 5, 384, 5)]
    for count in (1, 2, 3, 4):
        covered: dict[str, list[int]] = {"shared": [], "7": []}
        for starts, stops in row_ranges(parts, count):
            for part, start, stop in zip(parts, starts, stops, strict=True):
                covered[part.tenant] += range(start, stop)
        assert covered == {"shared": list(range(10)), "7": list(range(5))}, count
    assert row_ranges(parts, 1) == [([0, 0], [10, 5])]


def test_best_of_merges_top_lists_as_sql_orders_one() -> None:
    tops = [[(5, 2.0), (1, 1.0), (8, 0.2)], [(3, 2.0), (4, 0.5)]]
    # By score, best first; a tie goes to the lower row, as ORDER BY score DESC, row_id does.
    assert best_of(tops, 3) == [(3, 2.0), (5, 2.0), (1, 1.0)]
    assert best_of(tops[:1], 2) == tops[0]


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Engine:
    """Return a server's engine over the shared article and its own documents (two tenants)."""
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    (tmp_path / "corpus" / "kiwi.txt").write_text(
        "Kiwis\n\nKiwis are fuzzy brown fruit grown in New Zealand. Their skin is brown.\n"
    )
    settings = EngineSettings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", database_url=database_url
    )
    shared = Engine.open(settings, encoder=HashingEncoder(), verifier=bundled_verifier())
    library = Library(shared, tmp_path / "data")
    for text, title in [
        (b"Tea is brewed from dried leaves of the tea plant. Green tea is not fermented.", "Tea"),
        (b"Kiwis are also birds of New Zealand. The kiwi bird cannot fly.", "Birds"),
    ]:
        library.add(7, prepare(text, title=title), added_by="a")
    engine = library.engine_for(7)
    assert len(postgres_view(engine).tenants) == 2
    return engine


def postgres_view(engine: Engine) -> PostgresView:
    view = engine.searcher.backend
    assert isinstance(view, PostgresView)
    return view


def test_a_views_rows_ranked_in_ranges_give_the_same_top_list(
    server: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = postgres_view(server)  # a small view: one range
    expected = {
        (question, k): whole.keyword_top(terms(question), k)
        for question in QUESTIONS
        for k in (3, 400)
    }
    monkeypatch.setattr(views, "KEYWORD_RANGES_FROM", 0)
    monkeypatch.setattr(views, "KEYWORD_RANGES", 3)
    cut = server.store.view()
    assert isinstance(cut, PostgresView) and cut.generation == whole.generation
    ranges_asked: list[int] = []
    run = at_once

    def counting(calls: Sequence[Callable[[], T]]) -> list[T]:
        ranges_asked.append(len(calls))
        return run(calls)

    monkeypatch.setattr(views, "at_once", counting)
    for (question, k), top in expected.items():
        ranked = cut.keyword_top(terms(question), k)
        assert ranked.rows.tolist() == top.rows.tolist(), (question, k)
        assert np.allclose(ranked.scores, top.scores, rtol=1e-6), (question, k)
    assert set(ranges_asked) == {3}


def test_asked_rows_get_their_own_tenants_scores(server: Engine) -> None:
    view = postgres_view(server)
    every_row = np.arange(view.size, dtype=np.int64)
    # Both tenants number their rows from 0: a row asked of one must not get the other's score.
    for question in QUESTIONS:
        top = view.keyword_top(terms(question), 400)
        assert top.rows.size, question
        assert np.allclose(view.keyword_at(terms(question), top.rows), top.scores, rtol=1e-6)
        scores = view.keyword_at(terms(question), every_row)
        matched = np.flatnonzero(scores > 0)
        assert sorted(matched.tolist()) == sorted(top.rows.tolist()), question


def test_documents_read_ahead_are_those_read_one_by_one(
    server: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_by_one = postgres_view(server).documents
    ahead = server.store.view()
    assert isinstance(ahead, PostgresView)
    positions = list(range(len(ahead.documents)))
    ahead.read_ahead(positions)

    def unread(position: int) -> object:
        raise AssertionError(f"document {position} was read again")

    monkeypatch.setattr(ahead.documents, "_read", unread)
    for position in positions:
        a, b = ahead.documents[position], one_by_one[position]
        assert a.document == b.document and a.first_row == b.first_row
        assert list(a.sentences) == list(b.sentences) and list(a.windows) == list(b.windows)
        assert a.in_paragraph(1) == b.in_paragraph(1)
