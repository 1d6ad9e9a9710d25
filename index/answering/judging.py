"""Let the trained verifier decide: which passages answer, in what order, and which sentence."""

from __future__ import annotations

import math
from typing import NamedTuple

from index.answering.attribution import (
    NOTHING,
    Needs,
    names_present,
    question_needs,
    reports_words_of,
)
from index.answering.quotes import (
    MORE_QUOTES,
    Candidate,
    DistinctQuotes,
    make_quote,
    paragraph_rows,
    prefetch_paragraphs,
)
from index.answering.verifier.model import Judged, Verifier
from index.results import Quote
from index.retrieval.fusion import Hits
from index.storage.base import IndexedDocument, StoreView

# The verifier reads the best few sentences only, so its cost stays bounded on any corpus:
# two of each of the four best passages, one of the next six. Reading ten passages lets the
# reranking lift a passage into the top five (`python -m bench.rerank_budget`, 2,000 questions:
# R@5 0.969 against 0.966 for 2,2,2,1,1,1,1, R@1 unchanged). Fourteen sentences cost about 50 ms
# in bfloat16, 125 ms in float32; every sentence of twelve passages gains nothing further.
SENTENCES_PER_PASSAGE = (2, 2, 2, 2, 1, 1, 1, 1, 1, 1)
# Order = fused retrieval score + this weight x the verifier's logit. Alone, the verifier ranks
# worse than hybrid retrieval (SQuAD R@1 0.77 vs 0.82); together they beat both: R@1 0.817 at
# weight 0, 0.841 at 0.5, 0.846 at 1 and 0.837 at 2 (`python -m bench.rerank_budget`, 2,000
# questions; on the 1,047 of articles the verifier never saw 0.774, 0.796, 0.796 and 0.785).
VERIFIER_WEIGHT = 1.0
CLOSEST = 3


class Verdict(NamedTuple):
    """The verifier's judgement of one passage: its best sentence and that sentence's score."""

    candidate: Candidate
    probability: float
    sentence: int

    @property
    def rank(self) -> float:
        """Blend retrieval's score with the verifier's log-odds to order passages."""
        return self.candidate.fused + VERIFIER_WEIGHT * log_odds(self.probability)


def log_odds(probability: float) -> float:
    """Return a probability's log-odds, clipped so that a verdict of 0 or 1 stays finite."""
    p = min(max(probability, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def judged_sentence(item: IndexedDocument, index: int) -> Judged:
    """Return a sentence with its paragraph neighbours, as the verifier was trained to read it."""
    text = item.document.text
    sentences = item.sentences
    paragraph = sentences[index].paragraph

    def around(i: int) -> str:
        if 0 <= i < len(sentences) and sentences[i].paragraph == paragraph:
            return text[sentences[i].start : sentences[i].end]
        return ""

    return Judged(around(index), around(index - 1), around(index + 1), item.document.title)


def meets(needs: Needs, people_named: bool, item: Judged) -> bool:
    """Say whether a judged sentence shows what the question needs (its people, their words)."""
    # The verifier alone often accepts "What did X say?" on a sentence that merely names X,
    # or a question about someone the document never names: these checks are exact there.
    if not people_named:
        return False
    return needs.speaker is None or reports_words_of(needs.speaker, item.sentence, item.before)


def best_sentences(view: StoreView, hits: Hits, candidate: Candidate, count: int) -> list[int]:
    """Return the paragraph's sentences whose windows ranked best for the question."""
    inside = candidate.item.in_paragraph(candidate.paragraph)
    fused = hits.fused_at(paragraph_rows(view, candidate))
    # Best window first; ties keep the sentences' order.
    order = sorted(range(len(inside)), key=lambda i: -float(fused[i]))
    return [inside[i] for i in order[:count]]


def verify(
    view: StoreView,
    hits: Hits,
    candidates: list[Candidate],
    question: str,
    verifier: Verifier,
) -> list[Verdict]:
    """Score the best sentences of the leading passages; return them in blended order."""
    leading = candidates[: len(SENTENCES_PER_PASSAGE)]
    prefetch_paragraphs(view, hits, leading)
    owners: list[int] = []
    sentences: list[int] = []
    budget = zip(leading, SENTENCES_PER_PASSAGE, strict=False)  # there may be fewer passages
    for position, (candidate, count) in enumerate(budget):
        for index in best_sentences(view, hits, candidate, count):
            owners.append(position)
            sentences.append(index)
    judged = [judged_sentence(leading[o].item, s) for o, s in zip(owners, sentences, strict=True)]
    scores = verifier.score(question, judged)
    needs = question_needs(question)
    if needs != NOTHING:
        named: dict[str, bool] = {}
        for position, (owner, item) in enumerate(zip(owners, judged, strict=True)):
            document = leading[owner].item.document
            if document.doc_id not in named:
                named[document.doc_id] = names_present(needs, document.title, document.text)
            if not meets(needs, named[document.doc_id], item):
                scores[position] = 0.0
    best: dict[int, Verdict] = {}
    for owner, index, score in zip(owners, sentences, scores.tolist(), strict=True):
        if owner not in best or score > best[owner].probability:
            best[owner] = Verdict(leading[owner], float(score), index)
    # Ties keep retrieval's order (a stable sort over passages already in fused order).
    return sorted(best.values(), key=lambda v: -v.rank)


def _quote(verdict: Verdict) -> Quote:
    return make_quote(
        verdict.candidate, verdict.sentence, verdict.probability, verifier=verdict.probability
    )


def verified_quotes(
    verdicts: list[Verdict], threshold: float, max_quotes: int
) -> tuple[list[Quote], list[Quote]]:
    """Quote the passages the verifier accepts, best first; the rest that pass are "more"."""
    chosen: list[Quote] = []
    extra: list[Quote] = []
    distinct = DistinctQuotes()
    for verdict in verdicts:
        if verdict.probability < threshold:
            continue
        quote = _quote(verdict)
        if not distinct.admit(quote):
            continue
        if len(chosen) < max_quotes:
            chosen.append(quote)
        elif len(extra) < MORE_QUOTES:
            extra.append(quote)
    return chosen, extra


def closest_quotes(verdicts: list[Verdict]) -> list[Quote]:
    """Return the nearest passages after an abstention, for a reader who asks to see them."""
    distinct = DistinctQuotes()
    nearest = sorted(verdicts, key=lambda v: -v.probability)
    return [q for q in map(_quote, nearest) if distinct.admit(q)][:CLOSEST]


def reranked(verdicts: list[Verdict], candidates: list[Candidate]) -> list[Candidate]:
    """Order candidates by the verifier, then the unverified ones in retrieval order."""
    seen = {id(v.candidate) for v in verdicts}
    rest = [c for c in candidates if id(c) not in seen]
    return [v.candidate for v in verdicts] + rest
