"""Top-k retrieval, the persisted BM25/FAISS/row files, HNSW by size and the format upgrade."""

from __future__ import annotations

import json
import mmap
import random
from pathlib import Path

import bm25s
import faiss
import numpy as np
import pytest

import index.storage.local.store as store
from index import Engine, EngineSettings
from index.corpus.checksums import file_sha256
from index.retrieval.fusion import DENSE_WEIGHT, standardise
from index.storage.local.bm25 import KeywordBuilder, KeywordFiles, KeywordIndex
from index.storage.local.files import FORMAT_VERSION, MANIFEST, load_index
from index.storage.tables import SentenceColumns
from index.text.analyser import terms
from index.text.windows import DEFAULT_PARAMS, window_spans
from tests.support.hashing_encoder import HashingEncoder
from tests.support.stores import stored_index
from tests.unit.test_store import make_corpus

WORDS = """harbour bridge steel arch opened sydney workers rivets granite pylons ferry
tolls traffic lanes railway painted grey climb tourists engineer design contract
council budget cost pounds million years storm wind load test trains cars cyclists
walkway lookout museum history ceremony ribbon premier crowd march festival lights""".split()


def _sentences(rng: random.Random, count: int) -> list[str]:
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))).capitalize() + "."
        for _ in range(count)
    ]


def _random_corpus(folder: Path, documents: int, seed: int = 3) -> Path:
    rng = random.Random(seed)
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for number in range(documents):
        paragraphs = [" ".join(_sentences(rng, rng.randint(2, 5))) for _ in range(3)]
        (corpus / f"doc-{number}.txt").write_text("\n\n".join(paragraphs) + "\n")
    return corpus


def mapped_from_disk(array: np.ndarray) -> bool:
    """Return True if the array's memory is a file mapping."""
    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def hashed_engine(folder: Path, **settings: object) -> tuple[Engine, HashingEncoder]:
    """Open an engine over `folder`/corpus with the hashing encoder and no verifier."""
    encoder = HashingEncoder()
    values: dict[str, object] = {
        "corpus_dir": folder / "corpus",
        "index_dir": folder / "index",
        "verifier": "off",
        **settings,
    }
    config = EngineSettings(**values)  # type: ignore[arg-type]
    return Engine.open(config, encoder=encoder), encoder


def test_keyword_scores_ranks_and_files_are_bm25s_own(tmp_path: Path) -> None:
    texts = [*_sentences(random.Random(5), 80), "", "Harbour harbour harbour bridge."]
    analysed = [terms(text) for text in texts]
    builder = KeywordBuilder()
    builder.add(analysed[:30])  # in batches, as indexing streams them
    builder.add(analysed[30:])
    ours = builder.build()
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(analysed, show_progress=False)
    for query in ["harbour bridge", "steel arch opened", "museum museum lights", "granite"]:
        query_terms = ours.known(terms(query))
        expected = reference.get_scores(query_terms)
        assert np.allclose(ours.all_scores(query_terms), expected, atol=1e-5)
        top = ours.top(query_terms, 5)
        assert np.allclose(top.scores, np.sort(expected)[::-1][:5], atol=1e-5)
        assert np.allclose(expected[top.rows], top.scores, atol=1e-5)

    files = KeywordFiles.named("keywords.test")
    ours.save(tmp_path, files)
    mapped = KeywordIndex.load(tmp_path, files)
    assert mapped_from_disk(mapped.indices)  # read from disk, not into memory
    loaded = bm25s.BM25.load(tmp_path, mmap=True, **files.arguments())
    query_terms = terms("steel harbour ferry")
    documents, scores = loaded.retrieve([query_terms], k=5, show_progress=False)
    top = mapped.top(query_terms, 5)
    assert np.allclose(scores[0], top.scores, atol=1e-5)
    assert set(documents[0].tolist()) == set(top.rows.tolist())


def test_fusing_the_top_lists_loses_no_row_that_could_rank_above_them(tmp_path: Path) -> None:
    _random_corpus(tmp_path, 120)
    engine, _ = hashed_engine(tmp_path)
    searcher = engine.searcher
    vectors = searcher.vectors_at(np.arange(searcher.size))
    rng = random.Random(11)
    for _ in range(15):
        query = " ".join(rng.choice(WORDS) for _ in range(4))
        query_terms = terms(query)
        # The definition, scoring every row: standardised cosine and BM25, blended.
        dense = vectors @ searcher.embed_query(query).reshape(-1)
        keyword = stored_index(engine).keywords.all_scores(query_terms)
        fused = DENSE_WEIGHT * standardise(dense) + (1 - DENSE_WEIGHT) * standardise(keyword)
        hits = searcher.search(query, depth=120)
        assert len(hits.rows) < searcher.size  # the union is a real subset here
        assert np.allclose(hits.fused, fused[hits.rows], atol=1e-4)
        # A row outside both lists scores at most what the lists' last entries score.
        query_state = hits.query
        bound = DENSE_WEIGHT * query_state.dense_standard(query_state.dense_ranked.scores[-1:]) + (
            1 - DENSE_WEIGHT
        ) * query_state.keyword_standard(query_state.keyword_ranked.scores[-1:])
        outside = np.setdiff1d(np.arange(searcher.size), hits.rows)
        assert (fused[outside] <= bound[0] + 1e-4).all()
        above = np.flatnonzero(fused > bound[0] + 1e-4)
        best = above[np.lexsort((above, -fused[above]))]
        assert hits.rows[: len(best)].tolist() == best.tolist()


def test_a_large_corpus_gets_hnsw_recorded_in_the_manifest(tmp_path: Path) -> None:
    for name in ("flat", "graph"):
        (tmp_path / name).mkdir()
        make_corpus(tmp_path / name)
    flat, _ = hashed_engine(tmp_path / "flat")
    graph, _ = hashed_engine(tmp_path / "graph", hnsw_min_rows=10)
    flat_manifest = json.loads((tmp_path / "flat" / "index" / MANIFEST).read_text())
    graph_manifest = json.loads((tmp_path / "graph" / "index" / MANIFEST).read_text())
    assert flat_manifest["dense"]["kind"] == "flat"
    assert graph_manifest["dense"]["kind"] == "hnsw" and graph_manifest["dense"]["neighbours"]
    reopened = load_index(
        tmp_path / "graph" / "index", model_id="test-hashing", params=DEFAULT_PARAMS
    )
    assert isinstance(reopened.vectors, faiss.IndexHNSW)
    for question in ["Who spoke with Shoigu?", "Which fruit is yellow?", "What did Milley do?"]:
        expected = [(q.document, q.paragraph) for q in flat.ask(question).quotes]
        assert [(q.document, q.paragraph) for q in graph.ask(question).quotes] == expected


def test_reopening_maps_the_files_instead_of_rebuilding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_corpus(tmp_path)
    built, _ = hashed_engine(tmp_path)

    def rebuilt(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged index was rebuilt")

    monkeypatch.setattr(store, "analyse_keywords", rebuilt)
    monkeypatch.setattr(store, "build_vectors", rebuilt)
    engine, encoder = hashed_engine(tmp_path)
    assert encoder.embedded == 0
    index = stored_index(engine)
    assert mapped_from_disk(index.keywords.indices)
    item = next(i for i in index.documents if i.document.doc_id == "article")
    assert isinstance(item.sentences, SentenceColumns)
    assert list(item.sentences) == list(built_item_sentences(built))
    answer = engine.ask("Who did Shoigu speak with?")
    for quote in answer.quotes:
        document = next(i.document for i in index.documents if i.document.doc_id == quote.document)
        assert document.text[quote.start : quote.end] == quote.text


def built_item_sentences(engine: Engine) -> list[object]:
    item = next(i for i in engine.searcher.backend.documents if i.document.doc_id == "article")
    return list(item.sentences)


def test_an_index_of_format_1_is_upgraded_without_embedding_again(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    current, _ = hashed_engine(tmp_path, index_dir=tmp_path / "reference")
    folder = tmp_path / "index"
    folder.mkdir()
    records = []
    for item in current.searcher.backend.documents:
        document = item.document
        records.append(
            {
                "doc_id": document.doc_id,
                "title": document.title,
                "source": document.source,
                "source_url": document.source_url,
                "date": document.date,
                "content_hash": document.content_hash,
                "text": document.text,
                "paragraphs": [list(span) for span in document.paragraphs],
                "sentences": [list(sentence) for sentence in item.sentences],
                "first_row": item.first_row,
            }
        )
        assert window_spans(list(item.sentences), 1) == list(item.windows)
    (folder / "documents.old.json").write_text(json.dumps(records))
    flat = faiss.IndexFlatIP(stored_index(current).vectors.d)
    flat.add(current.searcher.vectors_at(np.arange(current.searcher.size)))
    faiss.write_index(flat, str(folder / "vectors.old.faiss"))
    manifest = {
        "format": 1,
        "model": "test-hashing",
        "dimension": flat.d,
        "chunker": DEFAULT_PARAMS._asdict(),
        "files": {
            role: {"name": name, "sha256": file_sha256(folder / name)}
            for role, name in [
                ("documents", "documents.old.json"),
                ("vectors", "vectors.old.faiss"),
            ]
        },
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    upgraded, encoder = hashed_engine(tmp_path)
    assert encoder.embedded == 0 and upgraded.last_sync.wrote
    assert json.loads((folder / MANIFEST).read_text())["format"] == FORMAT_VERSION
    assert not (folder / "documents.old.json").exists()
    question = "Who spoke with Stoltenberg?"
    assert upgraded.ask(question).quotes == current.ask(question).quotes


def test_summarising_a_large_corpus_reads_a_bounded_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _random_corpus(tmp_path, 40)
    engine, _ = hashed_engine(tmp_path)
    monkeypatch.setattr("index.answering.summaries.MAX_SUMMARY_ROWS", 50)
    read: list[int] = []
    # Summaries read vectors from the store's view of the served generation.
    original = engine.searcher.backend.vectors_at

    def counted(rows: np.ndarray) -> np.ndarray:
        read.append(len(rows))
        return original(rows)

    monkeypatch.setattr(engine.searcher.backend, "vectors_at", counted)
    summary = engine.summary(length=3)
    assert summary.answered and len(summary.quotes) == 3
    assert engine.searcher.size > 50 and read and max(read) <= 50


def test_a_start_reads_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(tmp_path)
    hashed_engine(tmp_path)
    import index.corpus.documents as documents

    real_read = documents.read_document
    read: list[str] = []

    def reading(path: Path, doc_id: str, source: str) -> object:
        read.append(source)
        return real_read(path, doc_id, source)

    monkeypatch.setattr(documents, "read_document", reading)
    unchanged, _ = hashed_engine(tmp_path)
    assert read == [] and len(unchanged.sources()) == 3
    (corpus / "other.txt").write_text("Bananas are yellow. Cherries are dark red.\n")
    changed, _ = hashed_engine(tmp_path)
    assert read == ["other.txt"] and changed.last_sync.embedded == ["other"]
    answer = changed.ask("Which fruit is dark red?")
    assert any("Cherries" in quote.text for quote in answer.quotes)
