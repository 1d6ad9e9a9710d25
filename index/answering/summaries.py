"""Extractive summaries: the most central (or most on-topic) sentences, kept in document order."""

from __future__ import annotations

from collections import Counter

import numpy as np
from numpy.typing import NDArray

from index.results import Highlight, Quote
from index.retrieval.fusion import Hits, standardise
from index.storage.base import StoreView
from index.text.analyser import terms

# Standard deviations of score given up per unit of cosine to an already chosen sentence.
REDUNDANCY_WEIGHT = 1.0
LEAD_BONUS = 0.1
CLOSENESS_WEIGHT = 0.2
MAX_SUMMARY_ROWS = 20_000


def _rows_of(view: StoreView, documents: list[int]) -> NDArray[np.int64]:
    """Return the documents' rows in order, evenly thinned to at most `MAX_SUMMARY_ROWS`."""
    items = view.documents
    ranges = [np.arange(items[d].first_row, items[d].rows.stop) for d in sorted(documents)]
    rows = np.concatenate(ranges).astype(np.int64) if ranges else np.zeros(0, dtype=np.int64)
    if rows.size > MAX_SUMMARY_ROWS:
        # Summarising a huge corpus must not load every vector: a spread sample keeps
        # its recurring subjects, which is what a summary picks.
        rows = rows[np.linspace(0, rows.size - 1, MAX_SUMMARY_ROWS).astype(np.int64)]
    return rows


def salience(view: StoreView, rows: NDArray[np.int64]) -> NDArray[np.float32]:
    """Score sentences by how many of the text's recurring words (its subject) they carry."""
    words = [set(terms(view.place(int(row)).text)) for row in rows]
    frequency = Counter(term for sentence in words for term in sentence)
    # Words that recur are what the text is about (names, the key event); one-offs are detail.
    scores = [
        sum(np.log(frequency[t]) for t in sentence if frequency[t] > 1)
        / max(1, len(sentence)) ** 0.5
        for sentence in words
    ]
    return np.asarray(scores, dtype=np.float32)


def centrality(view: StoreView, rows: NDArray[np.int64]) -> NDArray[np.float32]:
    """Score rows as a summary would pick them: salient words, meaning near the centre, and lead."""
    vectors = view.vectors_at(rows)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    # The title heads every window, so closeness to the centre mostly measures the title's topic;
    # it only breaks ties between equally salient sentences.
    closeness = vectors @ centre
    position = view.sentence_positions(rows).astype(np.float32)
    count = np.maximum(1, np.bincount(view.document_positions(rows)).max())
    scores = (
        standardise(salience(view, rows))
        + CLOSENESS_WEIGHT * standardise(closeness)
        + LEAD_BONUS * (1 - position / count)
    )
    return np.asarray(scores, dtype=np.float32)


def pick_diverse(
    view: StoreView, rows: NDArray[np.int64], scores: NDArray[np.float32], count: int
) -> list[int]:
    """Choose up to `count` rows greedily, trading score against similarity to those chosen."""
    vectors = view.vectors_at(rows)
    chosen: list[int] = []
    available = np.ones(len(rows), dtype=bool)
    while len(chosen) < min(count, len(rows)):
        penalty = np.zeros(len(rows), dtype=np.float32)
        if chosen:
            penalty = (vectors @ vectors[chosen].T).max(axis=1)
        value = np.where(available, scores - REDUNDANCY_WEIGHT * penalty, -np.inf)
        pick = int(np.argmax(value))
        chosen.append(pick)
        available[pick] = False
    return [int(rows[i]) for i in chosen]


def sentence_quote(view: StoreView, row: int, relevance: float) -> Quote:
    """Quote one indexed sentence, whole, as its own highlight."""
    place = view.place(row)
    sentence = place.item.sentences[place.sentence]
    document = place.item.document
    return Quote(
        document=document.doc_id,
        title=document.title,
        paragraph=sentence.paragraph,
        start=sentence.start,
        end=sentence.end,
        text=document.text[sentence.start : sentence.end],
        score=round(relevance, 4),
        highlight=Highlight(sentence.start, sentence.end),
        source_url=document.source_url,
    )


def summarise(
    view: StoreView,
    documents: list[int],
    length: int,
    topic_hits: Hits | None = None,
) -> list[Quote]:
    """Return `length` sentences of the documents (on the topic, when hits are given), in order."""
    rows = _rows_of(view, documents)
    if rows.size == 0:
        return []
    if topic_hits is None:
        scores = centrality(view, rows)
    else:
        scores = standardise(topic_hits.fused_at(rows).astype(np.float32))
    picked = pick_diverse(view, rows, scores, length)
    relevance = {int(r): float(s) for r, s in zip(rows, scores, strict=True)}
    top = max(relevance[r] for r in picked)
    bottom = min(relevance.values())
    # Rows run in document order, so sorting them keeps the summary in reading order.
    return [
        sentence_quote(view, row, (relevance[row] - bottom) / ((top - bottom) or 1.0))
        for row in sorted(picked)
    ]
