"""Embedding precision: bfloat16 where the CPU has it, never mixed with float32 in one index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import ConfigError, Engine, EngineSettings, load_settings
from index.retrieval import encoder as encoding
from index.retrieval.encoder import SentenceEncoder, Vectors
from tests.support.hashing_encoder import HashingEncoder
from tests.unit.test_store import make_corpus

MODEL = "someone/some-model"


class FakeModel:
    """Stands in for a sentence-transformers model: hashed words, scaled as asked."""

    def __init__(self) -> None:
        self.inner = HashingEncoder()
        self.embedded = 0

    def encode(self, texts: list[str], *, normalize_embeddings: bool, **_: Any) -> Vectors:
        self.embedded += len(texts)
        vectors = self.inner.encode(texts) * 3.0  # a model's raw vectors are not unit length
        if normalize_embeddings:
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


def fake_encoder(
    monkeypatch: pytest.MonkeyPatch, precision: str
) -> tuple[SentenceEncoder, FakeModel]:
    model = FakeModel()
    monkeypatch.setattr(SentenceEncoder, "_load", lambda self: (model, 64))
    return SentenceEncoder(MODEL, precision=precision), model


def open_engine(folder: Path, encoder: SentenceEncoder) -> Engine:
    settings = EngineSettings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    return Engine.open(settings, encoder=encoder)


def stored_model(folder: Path) -> str:
    model: str = json.loads((folder / "index" / "manifest.json").read_text())["model"]
    return model


@pytest.mark.parametrize(("hardware", "chosen"), [(True, "bfloat16"), (False, "float32")])
def test_auto_uses_bfloat16_only_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch, hardware: bool, chosen: str
) -> None:
    monkeypatch.setattr(encoding, "native_bfloat16", lambda: hardware)
    assert SentenceEncoder(MODEL, precision="auto").precision == chosen
    assert load_settings(EngineSettings).embedding_precision == "auto"


def test_a_float32_id_is_the_model_name_as_before_and_bfloat16_is_marked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert SentenceEncoder(MODEL).model_id == MODEL  # the default, as every older index has
    assert SentenceEncoder(MODEL, precision="float32").model_id == MODEL
    assert SentenceEncoder(MODEL, precision="bfloat16").model_id == f"{MODEL}@bfloat16"


def test_an_unknown_precision_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERBATIM_EMBEDDING_PRECISION", "float16")
    with pytest.raises(ConfigError, match="VERBATIM_EMBEDDING_PRECISION"):
        load_settings(EngineSettings)


def test_bfloat16_vectors_come_back_as_float32_of_unit_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoder, _ = fake_encoder(monkeypatch, "bfloat16")
    vectors = encoder.encode(["one two three", "four five"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_a_float32_index_opens_without_embedding_and_a_change_of_precision_re_embeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_corpus(tmp_path)
    first, model = fake_encoder(monkeypatch, "float32")
    built = open_engine(tmp_path, first)
    assert stored_model(tmp_path) == MODEL and model.embedded == built.searcher.size

    again, model = fake_encoder(monkeypatch, "float32")
    reopened = open_engine(tmp_path, again)
    assert model.embedded == 0 and not reopened.last_sync.wrote  # same id: nothing re-embedded

    reduced, model = fake_encoder(monkeypatch, "bfloat16")
    switched = open_engine(tmp_path, reduced)
    # Not one float32 vector is kept beside the bfloat16 ones: every window is embedded anew.
    assert model.embedded == switched.searcher.size == built.searcher.size
    assert "@bfloat16" in (switched.last_sync.rebuilt_because or "")
    assert stored_model(tmp_path) == f"{MODEL}@bfloat16"

    back, model = fake_encoder(monkeypatch, "float32")
    open_engine(tmp_path, back)
    assert model.embedded == built.searcher.size and stored_model(tmp_path) == MODEL


@pytest.mark.parametrize("built_in", ["float32", "bfloat16"])
def test_auto_keeps_the_precision_an_index_was_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built_in: str
) -> None:
    # Upgrading must not embed every document again: "auto" picks the CPU's best for a new
    # index only, and an existing one keeps its own precision, whichever the CPU prefers.
    make_corpus(tmp_path)
    monkeypatch.setattr(encoding, "native_bfloat16", lambda: built_in == "float32")
    first, model = fake_encoder(monkeypatch, built_in)
    settings = EngineSettings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=MODEL
    )
    Engine.open(settings, encoder=first)
    model = FakeModel()
    monkeypatch.setattr(SentenceEncoder, "_load", lambda self: (model, 64))
    reopened = Engine.open(settings.model_copy(update={"embedding_precision": "auto"}))
    assert model.embedded == 0 and not reopened.last_sync.wrote
    assert reopened.encoder.model_id == first.model_id == stored_model(tmp_path)


@pytest.mark.slow
def test_the_real_model_in_bfloat16_stays_close_to_float32() -> None:
    if not encoding.native_bfloat16():
        pytest.skip("this CPU has no bfloat16 hardware")
    texts = ["The ferry crosses the strait in forty minutes.", "Bananas are yellow."]
    exact = SentenceEncoder(precision="float32").encode(texts)
    reduced = SentenceEncoder(precision="bfloat16").encode(texts)
    assert reduced.dtype == np.float32
    assert np.allclose(np.linalg.norm(reduced, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(exact * reduced, axis=1)) > 0.99
