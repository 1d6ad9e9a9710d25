"""Turn scored windows into 1-3 verbatim quotes, each a paragraph with its answering sentence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from index.answering.relevance import ANSWER_THRESHOLD, Evidence, QuestionTerms, coverage, judge
from index.results import Highlight, Quote
from index.retrieval.fusion import Hits
from index.storage.base import IndexedDocument, StoreView
from index.text.analyser import terms

MAX_QUOTE_CHARS = 700
CANDIDATE_ROWS = 200
CANDIDATE_PASSAGES = 12
MORE_QUOTES = 5
# Further quotes must rank close to the best (in standard deviations of the fused score):
# questions with several answers ("who spoke with whom") have several passages that close.
COMPANION_MARGIN = 1.0
NEAR_DUPLICATE = 0.8


class Candidate(NamedTuple):
    """A passage worth quoting: where it is, how it ranked and why it looks relevant."""

    item: IndexedDocument
    paragraph: int
    best_row: int
    fused: float
    evidence: Evidence


def passage_candidates(
    view: StoreView,
    hits: Hits,
    question: str,
    wanted: QuestionTerms,
    *,
    limit: int = CANDIDATE_PASSAGES,
) -> list[Candidate]:
    """Group the best rows by paragraph and judge each paragraph once."""
    depth = min(CANDIDATE_ROWS, hits.rows.size)
    # The loop stops at `limit` paragraphs, so it reads at most the first `limit` documents
    # that the rows reach: a database reads those in one round trip instead of one each.
    reached = dict.fromkeys(view.document_positions(hits.rows[:depth]).tolist())
    view.read_ahead(list(reached)[:limit])
    seen: set[tuple[int, int]] = set()
    candidates = []
    for position in range(depth):
        row = int(hits.rows[position])
        place = view.place(row)
        item = place.item
        sentence = item.sentences[place.sentence]
        key = (place.position, sentence.paragraph)
        if key in seen:
            continue
        seen.add(key)
        start, end = item.document.paragraphs[sentence.paragraph - 1]
        cosine = float(hits.dense[position])
        evidence = judge(question, wanted, item.document.text[start:end], cosine)
        candidates.append(
            Candidate(item, sentence.paragraph, row, float(hits.fused[position]), evidence)
        )
        if len(candidates) >= limit:
            break
    return candidates


def paragraph_rows(view: StoreView, candidate: Candidate) -> NDArray[np.int64]:
    """Return the rows of the windows of a candidate's paragraph."""
    first = candidate.best_row - view.place(candidate.best_row).sentence
    inside = candidate.item.in_paragraph(candidate.paragraph)
    return np.arange(first + inside.start, first + inside.stop, dtype=np.int64)


def prefetch_paragraphs(view: StoreView, hits: Hits, candidates: Sequence[Candidate]) -> None:
    """Score every row of these candidates' paragraphs in one ask of the store."""
    if candidates:
        hits.query.prefetch(np.concatenate([paragraph_rows(view, c) for c in candidates]))


def _highlight(view: StoreView, hits: Hits, candidate: Candidate, wanted: QuestionTerms) -> int:
    """Pick the sentence (index in the document) that best answers within the paragraph."""
    item = candidate.item
    own = view.place(candidate.best_row).sentence
    inside = item.in_paragraph(candidate.paragraph)
    fused = hits.fused_at(paragraph_rows(view, candidate))
    best, best_score = own, -np.inf
    for index, window_score in zip(inside, fused.tolist(), strict=True):
        sentence = item.sentences[index]
        own_words = set(terms(item.document.text[sentence.start : sentence.end]))
        # The window score smears over neighbours; the sentence's own words break the tie.
        score = window_score + coverage(wanted, own_words)
        if score > best_score:
            best, best_score = index, score
    return best


def _quote_span(candidate: Candidate, highlight: int) -> tuple[int, int]:
    """Quote the whole paragraph, or as many sentences around the highlight as fit."""
    item = candidate.item
    start, end = item.document.paragraphs[candidate.paragraph - 1]
    if end - start <= MAX_QUOTE_CHARS:
        return start, end
    sentences = item.sentences
    lo = hi = highlight
    while True:
        grew = False
        for step in (1, -1):
            probe = hi + 1 if step == 1 else lo - 1
            if 0 <= probe < len(sentences) and sentences[probe].paragraph == candidate.paragraph:
                new_lo, new_hi = min(lo, probe), max(hi, probe)
                if sentences[new_hi].end - sentences[new_lo].start <= MAX_QUOTE_CHARS:
                    lo, hi, grew = new_lo, new_hi, True
        if not grew:
            return sentences[lo].start, sentences[hi].end


def make_quote(
    candidate: Candidate,
    highlight: int,
    score: float,
    *,
    verifier: float | None = None,
) -> Quote:
    """Build the verbatim quote for a candidate passage, highlighting sentence `highlight`."""
    start, end = _quote_span(candidate, highlight)
    document = candidate.item.document
    sentence = candidate.item.sentences[highlight]
    return Quote(
        document=document.doc_id,
        title=document.title,
        paragraph=candidate.paragraph,
        start=start,
        end=end,
        text=document.text[start:end],
        score=round(score, 4),
        highlight=Highlight(max(start, sentence.start), min(end, sentence.end)),
        source_url=document.source_url,
        verifier=None if verifier is None else round(verifier, 4),
    )


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class DistinctQuotes:
    """Keep quotes whose words differ enough from those already kept."""

    def __init__(self) -> None:
        self._words: list[set[str]] = []

    def admit(self, quote: Quote) -> bool:
        """Return True and remember the quote unless it nearly repeats a kept one."""
        words = set(terms(quote.text))
        if any(_jaccard(words, other) >= NEAR_DUPLICATE for other in self._words):
            return False
        self._words.append(words)
        return True


def select_quotes(
    view: StoreView,
    hits: Hits,
    candidates: list[Candidate],
    wanted: QuestionTerms,
    max_quotes: int,
) -> tuple[list[Quote], list[Quote]]:
    """Choose the answer's quotes and the further ones offered as "more quotes"."""
    if not candidates or candidates[0].evidence.relevance < ANSWER_THRESHOLD:
        return [], []
    best = candidates[0].fused
    chosen: list[Quote] = []
    extra: list[Quote] = []
    distinct = DistinctQuotes()
    passing = [c for c in candidates if c.evidence.relevance >= ANSWER_THRESHOLD]
    prefetch_paragraphs(view, hits, passing)
    for candidate in passing:
        highlight = _highlight(view, hits, candidate, wanted)
        quote = make_quote(candidate, highlight, candidate.evidence.relevance)
        if not distinct.admit(quote):
            continue
        close = candidate.fused >= best - COMPANION_MARGIN
        if close and len(chosen) < max_quotes:
            chosen.append(quote)
        elif len(extra) < MORE_QUOTES:
            extra.append(quote)
    return chosen, extra
