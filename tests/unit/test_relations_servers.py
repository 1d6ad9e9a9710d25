"""Each server's map holds its own documents' links (and the shared ones when visible)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from index import DatabaseUnavailable, Engine, EngineSettings, RelationGraph
from index.corpus.ingest import prepare
from index.engine import _RelationsSource
from index.library import Library
from tests.support.hashing_encoder import HashingEncoder

SHARED = "General Mark Milley spoke with Admiral Tony Radakin on Monday."
OWN = b"Prime Minister Anna Kowalczyk met Chancellor Dieter Brandt in Warsaw on Tuesday."
OTHER = b"Foreign Minister Tomas Herrera spoke with Ines Duarte on Friday."


def names(engine: Engine) -> set[str]:
    return {node.name for node in engine.relations().graph.nodes}


def test_servers_see_their_own_links_and_the_shared_ones(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "generals.txt").write_text(SHARED)
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "shared-index")
    shared = Engine.open(settings, encoder=HashingEncoder())
    library = Library(shared, tmp_path / "data")
    library.add(1, prepare(OWN, title="Warsaw"), added_by="admin#1")
    library.add(2, prepare(OTHER, title="Lisbon"), added_by="admin#2")
    assert names(library.engine_for(1)) == {
        "Anna Kowalczyk",
        "Dieter Brandt",
        "Mark Milley",
        "Tony Radakin",
    }
    assert names(library.engine_for(2)) == {
        "Tomas Herrera",
        "Ines Duarte",
        "Mark Milley",
        "Tony Radakin",
    }
    assert names(library.engine_for(None)) == {"Mark Milley", "Tony Radakin"}
    hidden = Library(shared, tmp_path / "data", shared_visible=False)
    assert names(hidden.engine_for(1)) == {"Anna Kowalczyk", "Dieter Brandt"}
    # Another server's person is unknown here: the question is answered from passages instead.
    assert library.engine_for(2).relations_for_question("Who did Kowalczyk meet?") is None
    assert library.engine_for(1).relations_for_question("Who did Kowalczyk meet?") is not None


def test_the_graph_is_returned_only_once_its_background_thread_has_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process that exits (`index`) right after the graph must leave no builder thread behind.
    build = _RelationsSource._build

    def build_then_linger(source: _RelationsSource) -> RelationGraph:
        graph = build(source)
        if threading.current_thread().name == "relations":
            time.sleep(0.5)  # still running after the lock is free, as unwinding spaCy is
        return graph

    monkeypatch.setattr(_RelationsSource, "_build", build_then_linger)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "generals.txt").write_text(SHARED)
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "index")
    engine = Engine.open(settings, encoder=HashingEncoder())
    assert engine.last_sync.embedded  # so the graph was started on a thread of its own
    engine.graph  # noqa: B018
    assert not [thread for thread in threading.enumerate() if thread.name == "relations"]


def test_a_build_ahead_that_loses_the_database_is_one_warning_then_built_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    build = _RelationsSource._build

    def lost_on_the_thread(source: _RelationsSource) -> RelationGraph:
        if threading.current_thread().name == "relations":
            raise DatabaseUnavailable("the database connection was lost (gone); try again")
        return build(source)

    monkeypatch.setattr(_RelationsSource, "_build", lost_on_the_thread)
    crashed: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "generals.txt").write_text(SHARED)
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "index")
    with caplog.at_level(logging.WARNING, logger="index.engine"):
        engine = Engine.open(settings, encoder=HashingEncoder())
        assert names(engine) == {"Mark Milley", "Tony Radakin"}
    assert crashed == []
    [warned] = [r for r in caplog.records if "not built ahead" in r.getMessage()]
    assert "connection was lost" in warned.getMessage()
