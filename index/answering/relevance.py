"""Judge whether a passage answers a question, beyond how well it ranks against the others."""

from __future__ import annotations

import re
from typing import NamedTuple

from index.retrieval.backend import TermStatistics
from index.text.analyser import terms

# Words that shape a question but are not what it is about; "say" or "do" in "what did X say"
# stand for the answer itself, so a passage need not repeat them.
QUESTION_WORDS = frozenset(
    """who whom whose what which when where why whi how much many kind type sort tell explain
    describe list name give do doe did done have has had can could would should shall may might
    must i me my we our you your he him his she her its they them their this that these those
    there here about some any all other anoth also just onli veri so than too say said mention
    happen mean think regard accord accordingli role job posit titl purpos""".split()
)
# "What is the X of Y": the passage must speak of X itself (the capital, the population),
# not merely of Y, or the question is about something the documents don't cover.
_FOCUS = re.compile(
    r"^\W*(?:what|who|which)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?:the\s+|a\s+|an\s+)?"
    r"(?P<focus>[\w'-]+(?:\s+[\w'-]+){0,2}?)\s+(?:of|in|for|at|on|from)\s",
    re.IGNORECASE,
)
# Questions that ask for a quantity or a time are only answered by text that has one.
_WANTS_NUMBER = re.compile(
    r"\b(how (much|many|long|old|far|big|large|often|tall|high)|what (percentage|percent|number"
    r"|amount|proportion|share|price|cost)|how much does)\b",
    re.IGNORECASE,
)
_WANTS_TIME = re.compile(r"^\W*(when|what (year|date|time|day|month|century|decade))\b", re.I)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|trillion|dozen|half|quarter|percent|several)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|"
    r"tomorrow|ago|week|month|year|century|decade|hour|day|morning|evening|night|spring|"
    r"summer|autumn|fall|winter|since|until|after|before|during)\b",
    re.IGNORECASE,
)


# Fitted on ../shared/eval (seed_dev and SQuAD abstain_dev); see docs/benchmarks.md.
COSINE_FLOOR = 0.15
COSINE_CEILING = 0.65
COVERAGE_WEIGHT = 0.55
MISSING_TYPE_PENALTY = 0.6
MISSING_FOCUS_PENALTY = 0.5
ANSWER_THRESHOLD = 0.25


class Evidence(NamedTuple):
    """Why a passage looks like an answer: the signals and the blended relevance in [0, 1]."""

    cosine: float
    coverage: float
    type_ok: bool
    relevance: float
    focus_ok: bool


class QuestionTerms(NamedTuple):
    """A question's content terms with their weights, and the thing it asks about, if named."""

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    focus: str | None = None


def question_terms(question: str, weights: TermStatistics) -> QuestionTerms:
    """Return the distinct content terms of a question, weighted by rarity in the corpus."""
    seen: dict[str, float] = {}
    for term in terms(question):
        if term not in QUESTION_WORDS and term not in seen:
            seen[term] = weights.idf(term)
    return QuestionTerms(tuple(seen), tuple(seen.values()), focus_term(question))


def coverage(question: QuestionTerms, passage_terms: set[str]) -> float:
    """Return the weighted share of question terms the passage contains."""
    total = sum(question.weights)
    if total <= 0:
        return 0.0
    found = sum(
        w for t, w in zip(question.terms, question.weights, strict=True) if t in passage_terms
    )
    return found / total


def type_matches(question: str, passage: str) -> bool:
    """Return False when the question asks for a number or a time the passage lacks."""
    if _WANTS_NUMBER.search(question) and not _NUMBER.search(passage):
        return False
    return not (_WANTS_TIME.search(question) and not _TIME.search(passage))


def focus_term(question: str) -> str | None:
    """Return the stemmed head of X in "what is the X of Y", unless it is a question word."""
    match = _FOCUS.search(question)
    if not match:
        return None
    head = terms(match.group("focus"))
    return head[-1] if head and head[-1] not in QUESTION_WORDS else None


def judge(question: str, wanted: QuestionTerms, passage: str, cosine: float) -> Evidence:
    """Blend meaning (cosine), wording (coverage), answer type and focus into one relevance."""
    passage_terms = set(terms(passage))
    share = coverage(wanted, passage_terms)
    meaning = min(1.0, max(0.0, (cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR)))
    relevance = COVERAGE_WEIGHT * share + (1 - COVERAGE_WEIGHT) * meaning
    fits = type_matches(question, passage)
    if not fits:
        relevance *= MISSING_TYPE_PENALTY
    focused = wanted.focus is None or wanted.focus in passage_terms
    if not focused:
        relevance *= MISSING_FOCUS_PENALTY
    return Evidence(cosine, share, fits, relevance, focused)
