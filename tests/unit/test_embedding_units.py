"""Embedding units: each sentence once, a window's vector the mean of its sentences', in both stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import ConfigError, Engine, EngineSettings, load_settings
from index.corpus.documents import Document, paragraph_spans
from index.retrieval.encoder import SentenceEncoder, Vectors, precise_model_id
from index.storage.local import building
from index.storage.local.building import VectorSource, stream_vectors
from index.text.windows import DEFAULT_PARAMS, split_sentences, window_bounds, window_spans
from tests.conftest import bundled_verifier
from tests.support.hashing_encoder import HashingEncoder
from tests.unit.test_store import make_corpus

TEXT = (
    "Ann met Ben in Paris. They spoke of rain. Ben left at noon.\n\n"
    "Cleo stayed home. She read a long book about ships. Then she slept.\n\n"
    "One sentence alone."
)


class SentenceHashing(HashingEncoder):
    """The hashing encoder, declaring that windows are built from sentences embedded once."""

    units = "sentences"

    def __init__(self) -> None:
        super().__init__(model_id="test-hashing+sentences")
        self.texts: list[str] = []

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        self.texts.extend(texts)
        return super().encode(texts, show_progress=show_progress)


def document() -> Document:
    return Document("ships", "Ships", TEXT, "ships.txt", paragraph_spans(TEXT))


def expected_vectors(doc: Document) -> Vectors:
    """Each window's vector worked out by hand: the unit-length sum of its sentences' vectors."""
    sentences = split_sentences(doc)
    own = HashingEncoder().encode([f"{doc.title}\n{doc.text[s.start : s.end]}" for s in sentences])
    rows = []
    for lo, hi in window_bounds(sentences, DEFAULT_PARAMS.window):
        total = own[lo : hi + 1].sum(axis=0)
        rows.append(total / np.linalg.norm(total))
    return np.array(rows, dtype=np.float32)


def streamed(doc: Document, encoder: HashingEncoder) -> Vectors:
    sentences = split_sentences(doc)
    source = VectorSource(
        document=doc,
        windows=window_spans(sentences, DEFAULT_PARAMS.window),
        params=DEFAULT_PARAMS,
        sentences=sentences,
    )
    return np.vstack(list(stream_vectors([source], encoder, level=10)))


@pytest.mark.parametrize("slice_size", [2048, 2, 1])
def test_each_sentence_is_embedded_once_and_a_window_is_the_mean_of_its_sentences(
    monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    # Small slices cut the document between a window and its neighbours: each slice must
    # still reach the sentences its edge windows average.
    monkeypatch.setattr(building, "EMBED_SLICE", slice_size)
    doc = document()
    encoder = SentenceHashing()
    vectors = streamed(doc, encoder)
    assert np.allclose(vectors, expected_vectors(doc), atol=1e-6)
    sentences = split_sentences(doc)
    if slice_size == 2048:  # one call: every sentence exactly once, never a joined window
        assert sorted(encoder.texts) == sorted(
            f"Ships\n{doc.text[s.start : s.end]}" for s in sentences
        )


def test_windows_stay_the_default_and_a_setting_names_sentences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(EngineSettings).embedding_units == "windows"
    assert SentenceEncoder("m").model_id == "m"  # older indexes keep their id
    assert SentenceEncoder("m", precision="bfloat16", units="sentences").model_id == (
        "m@bfloat16+sentences"
    )
    assert precise_model_id("m", "float32", "sentences") == "m+sentences"
    monkeypatch.setenv("VERBATIM_EMBEDDING_UNITS", "paragraphs")
    with pytest.raises(ConfigError, match="VERBATIM_EMBEDDING_UNITS"):
        load_settings(EngineSettings)


def engine(folder: Path, encoder: HashingEncoder, database_url: str | None = None) -> Engine:
    settings = EngineSettings(
        corpus_dir=folder / "corpus", index_dir=folder / "index", database_url=database_url
    )
    return Engine.open(settings, encoder=encoder, verifier=bundled_verifier())


def test_a_change_of_units_embeds_every_window_again(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    windows = engine(tmp_path, HashingEncoder())
    sentences = engine(tmp_path, SentenceHashing())
    assert (
        sentences.last_sync.rebuilt_because and "+sentences" in sentences.last_sync.rebuilt_because
    )
    rows = np.arange(windows.searcher.size, dtype=np.int64)
    mixed = windows.searcher.backend.vectors_at(rows) != sentences.searcher.backend.vectors_at(rows)
    assert mixed.any()  # the vectors really are made another way


def test_both_stores_store_the_same_sentence_built_vectors(
    tmp_path: Path, database_url: str
) -> None:
    make_corpus(tmp_path)
    local = engine(tmp_path, SentenceHashing()).searcher.backend
    postgres = engine(tmp_path, SentenceHashing(), database_url).searcher.backend
    rows = np.arange(local.size, dtype=np.int64)
    assert postgres.size == local.size
    assert np.allclose(postgres.vectors_at(rows), local.vectors_at(rows), atol=1e-6)
