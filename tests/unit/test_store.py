"""The on-disk index: incremental updates, atomic writes, corruption and mismatch handling."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import faiss
import pytest

from index import Engine, EngineSettings
from index.errors import CorruptIndex, StaleIndex
from index.storage.local.files import MANIFEST, load_index
from index.text.windows import DEFAULT_PARAMS
from tests.support.hashing_encoder import HashingEncoder

ARTICLE = Path(__file__).resolve().parents[2] / "corpus" / "dirty-bomb-claims.txt"


def make_corpus(folder: Path) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "article.txt").write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    (corpus / "notes.md").write_text(
        "# Notes\n\nThe cat sat on the mat. Dr. Who was there.\n\nIt rained.\n"
    )
    (corpus / "other.txt").write_text("Bananas are yellow. Apples are red or green.\n")
    return corpus


def open_engine(folder: Path, encoder: HashingEncoder) -> Engine:
    settings = EngineSettings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    return Engine.open(settings, encoder=encoder)


def windows_of(engine: Engine, doc_id: str) -> int:
    return next(s.sentences for s in engine.sources() if s.document == doc_id)


def test_reopening_an_unchanged_corpus_embeds_nothing(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    first = open_engine(tmp_path, HashingEncoder())
    assert first.last_sync.wrote and first.last_sync.rebuilt_because == "no index yet"
    encoder = HashingEncoder()
    again = open_engine(tmp_path, encoder)
    assert encoder.embedded == 0
    assert not again.last_sync.wrote
    assert sorted(again.last_sync.reused) == ["article", "notes", "other"]
    assert again.searcher.size == first.searcher.size


def test_changing_adding_and_removing_documents_embeds_only_those(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path)
    open_engine(tmp_path, HashingEncoder())
    (corpus / "other.txt").write_text("Bananas are yellow. Cherries are dark red. Plums too.\n")
    (corpus / "notes.md").unlink()
    (corpus / "new.txt").write_text("A new document. It has three sentences. Here is the last.\n")
    encoder = HashingEncoder()
    engine = open_engine(tmp_path, encoder)
    report = engine.last_sync
    assert sorted(report.embedded) == ["new", "other"] and report.removed == ["notes"]
    assert report.reused == ["article"]
    assert encoder.embedded == windows_of(engine, "new") + windows_of(engine, "other")
    answer = engine.ask("Which fruit is dark red?")
    assert any("Cherries are dark red." in q.text for q in answer.quotes)


def test_title_change_rewrites_without_losing_answers(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path)
    open_engine(tmp_path, HashingEncoder())
    (corpus / "other.meta.json").write_text(json.dumps({"title": "Fruit facts"}))
    encoder = HashingEncoder()
    engine = open_engine(tmp_path, encoder)
    # The title heads every embedded window, so that one document is embedded again.
    assert engine.last_sync.embedded == ["other"]
    assert {s.title for s in engine.sources()} >= {"Fruit facts"}


def _vectors_file(folder: Path) -> Path:
    return next((folder / "index").glob("vectors.*.faiss"))


@pytest.mark.parametrize("damage", ["truncate_vectors", "garbage_manifest", "missing_documents"])
def test_a_corrupt_index_is_detected_and_rebuilt(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_corpus(tmp_path)
    open_engine(tmp_path, HashingEncoder())
    if damage == "truncate_vectors":
        path = _vectors_file(tmp_path)
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage_manifest":
        (tmp_path / "index" / MANIFEST).write_text("{not json")
    else:
        next((tmp_path / "index").glob("documents.*.json")).unlink()
    with pytest.raises(CorruptIndex):
        load_index(tmp_path / "index", model_id="test-hashing", params=DEFAULT_PARAMS)
    encoder = HashingEncoder()
    with caplog.at_level(logging.WARNING):
        engine = open_engine(tmp_path, encoder)
    assert "Rebuilding the index" in caplog.text
    assert encoder.embedded == engine.searcher.size > 0
    load_index(tmp_path / "index", model_id="test-hashing", params=DEFAULT_PARAMS)


def test_a_different_model_is_a_mismatch_that_forces_a_rebuild(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    open_engine(tmp_path, HashingEncoder())
    with pytest.raises(StaleIndex, match="other-model"):
        load_index(tmp_path / "index", model_id="other-model", params=DEFAULT_PARAMS)
    encoder = HashingEncoder(model_id="other-model")
    engine = open_engine(tmp_path, encoder)
    assert "other-model" in (engine.last_sync.rebuilt_because or "")
    assert encoder.embedded == engine.searcher.size


def test_a_crash_while_writing_leaves_the_old_index_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(tmp_path)
    before = open_engine(tmp_path, HashingEncoder())
    # The who-spoke-with-whom extraction writes its cache folder beside the index in the
    # background: wait for it, so that the listing is not a race with it.
    before.graph  # noqa: B018
    before_files = list((tmp_path / "index").iterdir())
    (corpus / "other.txt").write_text("Completely different content now. Nothing about fruit.\n")

    def crash(index: object, path: str) -> None:
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    served = open_engine(tmp_path, HashingEncoder())  # a failed save is logged, never fatal
    assert served.last_sync.save_error and "disk full" in served.last_sync.save_error
    assert served.ask("Is there anything about fruit?").question  # it still answers
    served.graph  # noqa: B018
    monkeypatch.undo()
    stored = load_index(tmp_path / "index", model_id="test-hashing", params=DEFAULT_PARAMS)
    assert stored.size == before.searcher.size
    # No temporary file and no half generation (the documents file) is left behind.
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == sorted(
        p.name for p in before_files
    )
    encoder = HashingEncoder()
    after = open_engine(tmp_path, encoder)
    assert after.last_sync.embedded == ["other"]  # only the changed document, as before the crash


def test_repeated_paragraph_is_indexed_once(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    engine = open_engine(tmp_path, HashingEncoder())
    item = next(i for i in engine.searcher.backend.documents if i.document.doc_id == "article")
    paragraphs = {s.paragraph for s in item.sentences}
    assert 1 in paragraphs and 5 not in paragraphs  # paragraph 5 repeats paragraph 1
    assert len(paragraphs) == len(item.document.paragraphs) - 1


def test_an_empty_corpus_says_so_instead_of_failing(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    engine = open_engine(tmp_path, HashingEncoder())
    answer = engine.ask("Who spoke with whom?")
    assert not answer.answered and "corpus is empty" in answer.reason
    assert not engine.summary().answered and engine.sources() == []
