"""Build the search structures in one streaming pass: vectors into FAISS, terms into BM25."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from index.corpus.documents import Document
from index.retrieval.encoder import EMBED_SLICE, Encoder, Vectors, embed_in_steps
from index.retrieval.units import Units, compose, shifted, window_units
from index.storage.local.bm25 import KeywordBuilder, KeywordIndex, TermWeights
from index.storage.local.dense import DenseBuilder, DenseKind
from index.text.analyser import window_terms
from index.text.progress import Progress
from index.text.windows import ChunkerParams, Sentence, window_bounds

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
    """Where one document's vectors come from: stored rows to copy, or windows to embed."""

    def __init__(
        self,
        *,
        stored: Callable[[], Vectors] | None = None,
        document: Document | None = None,
        windows: Sequence[tuple[int, int]] = (),
        params: ChunkerParams | None = None,
        sentences: Sequence[Sentence] = (),
    ) -> None:
        self.stored = stored
        self.document, self.windows, self.params = document, windows, params
        # Given only when each sentence is embedded once and windows average them.
        self.sentences = sentences
        self._bounds: list[tuple[int, int]] | None = None

    @property
    def count(self) -> int:
        """Return how many windows this source embeds (0 for stored rows)."""
        return len(self.windows) if self.document is not None else 0

    def units(self, start: int, stop: int) -> Units:
        """Return what to embed for windows start:stop, made only when they are embedded."""
        # Made a slice at a time: a 30 MB document's 236k texts never exist all at once.
        assert self.document is not None and self.params is not None
        if self.sentences and self._bounds is None:
            self._bounds = window_bounds(self.sentences, self.params.window)
        return window_units(
            self.document,
            self.windows,
            start,
            stop,
            self.params,
            sentences=self.sentences,
            sentence_bounds=self._bounds or (),
        )


def stream_vectors(
    sources: Sequence[VectorSource],
    encoder: Encoder,
    level: int,
) -> Iterator[Vectors]:
    """Yield vectors in row order, embedding new texts in slices and copying stored ones."""
    total = sum(source.count for source in sources)
    progress = Progress("Embedding", total, "sentence windows", level=level)
    texts: list[str] = []
    bounds: list[tuple[int, int]] = []

    def embed() -> Iterator[Vectors]:
        if bounds:
            yield compose(embed_in_steps(encoder, texts, progress), bounds)
        texts.clear()
        bounds.clear()

    for source in sources:
        if source.document is None:
            yield from embed()
            if source.stored is not None:
                yield source.stored()
            continue
        for start in range(0, source.count, EMBED_SLICE):
            units = source.units(start, start + EMBED_SLICE)
            bounds.extend(shifted(units.bounds, len(texts)))
            texts.extend(units.texts)
            # Windows of several small documents share a call: fewer, fuller batches.
            if len(texts) >= EMBED_SLICE:
                yield from embed()
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
