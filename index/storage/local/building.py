"""Build the search structures in one streaming pass: vectors into FAISS, terms into BM25."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from index.corpus.documents import Document
from index.retrieval.encoder import Encoder, Vectors, embed_in_steps
from index.storage.local.bm25 import KeywordBuilder, KeywordIndex, TermWeights
from index.storage.local.dense import DenseBuilder, DenseKind
from index.text.analyser import window_terms
from index.text.progress import Progress
from index.text.windows import ChunkerParams, Sentence

# Texts embedded per call. sentence-transformers sorts each call's texts by length before
# batching, so larger calls pad less; 2048 windows of 384 floats are only 3 MB.
EMBED_SLICE = 2048
# Windows analysed for BM25 per batch: bounds the memory of term lists while indexing.
KEYWORD_SLICE = 4096


def analyse_keywords(
    documents: Sequence[tuple[Document, Sequence[Sentence]]],
    params: ChunkerParams,
    progress: Progress | None = None,
) -> tuple[KeywordIndex, TermWeights]:
    """Build BM25 over the windows and sentence frequencies for weighing question terms."""
    builder = KeywordBuilder()
    frequency: Counter[str] = Counter()
    sentences_seen = 0
    batch: list[list[str]] = []
    for document, sentences in documents:
        own, units = window_terms(document, sentences, params)
        for sentence_terms in own:
            frequency.update(set(sentence_terms))
        sentences_seen += len(own)
        batch.extend(units)
        if len(batch) >= KEYWORD_SLICE:
            builder.add(batch)
            batch = []
        if progress is not None:
            progress.advance(len(units))
    builder.add(batch)
    if progress is not None:
        progress.finish()
    return builder.build(), TermWeights(dict(frequency), sentences_seen)


class VectorSource:
    """Where one document's vectors come from: stored rows to copy, or texts to embed."""

    def __init__(
        self, *, stored: Callable[[], Vectors] | None = None, texts: list[str] | None = None
    ) -> None:
        self.stored = stored
        self.texts = texts


def stream_vectors(
    sources: Sequence[VectorSource],
    encoder: Encoder,
    level: int,
) -> Iterator[Vectors]:
    """Yield vectors in row order, embedding new texts in slices and copying stored ones."""
    total = sum(len(s.texts) for s in sources if s.texts is not None)
    progress = Progress("Embedding", total, "sentence windows", level=level)
    pending: list[str] = []

    def embed() -> Iterator[Vectors]:
        for start in range(0, len(pending), EMBED_SLICE):
            yield embed_in_steps(encoder, pending[start : start + EMBED_SLICE], progress)
        pending.clear()

    for source in sources:
        if source.texts is not None:
            pending.extend(source.texts)
            if len(pending) >= EMBED_SLICE:
                # Embed whole slices now; a remainder waits for the next document's texts.
                cut = len(pending) - len(pending) % EMBED_SLICE
                rest = pending[cut:]
                del pending[cut:]
                yield from embed()
                pending.extend(rest)
        else:
            yield from embed()
            if source.stored is not None:
                yield source.stored()
    yield from embed()
    if total:
        progress.finish()


def build_vectors(
    sources: Sequence[VectorSource],
    encoder: Encoder,
    *,
    rows: int,
    dimension: int,
    level: int,
    hnsw_min_rows: int,
) -> Any:
    """Return a FAISS index of every row's vector, of the kind the corpus size calls for."""
    builder = DenseBuilder(DenseKind.for_rows(rows, hnsw_min_rows=hnsw_min_rows), dimension)
    for vectors in stream_vectors(sources, encoder, level):
        builder.add(vectors)
    return builder.finish()
