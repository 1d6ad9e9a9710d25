"""Answers over the default article with the real model: quotes, abstention, summaries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from index import Engine, QuestionError
from tests.conftest import SHARED

SEED = [
    json.loads(line)
    for line in (SHARED / "eval" / "seed_dev.jsonl").read_text().splitlines()
    if line.strip()
]


def _quotes_expected(engine: Engine, case: dict[str, Any]) -> bool:
    answer = engine.ask(case["question"])
    quoted = " ".join(q.text for q in answer.quotes)
    one_quote = any(all(e in q.text for e in case["expect"]) for q in answer.quotes)
    return answer.answered and (one_quote or all(e in quoted for e in case["expect"]))


def test_answerable_dev_questions_are_quoted(engine: Engine) -> None:
    # A floor, not a wish: the shipped verifier misses one (d04 quotes the statement's summary
    # in paragraph 10 rather than its words in 11; see docs/benchmarks.md). Fewer is a regression.
    cases = [c for c in SEED if not c.get("abstain")]
    missed = [c["id"] for c in cases if not _quotes_expected(engine, c)]
    assert len(missed) <= 1, missed


@pytest.mark.parametrize("case", [c for c in SEED if c.get("abstain")], ids=lambda c: c["id"])
def test_unanswerable_dev_questions_abstain(engine: Engine, case: dict[str, Any]) -> None:
    answer = engine.ask(case["question"])
    assert not answer.answered and answer.quotes == [] and "don't contain" in answer.reason


def test_who_spoke_with_whom_surfaces_every_reported_conversation(engine: Engine) -> None:
    answer = engine.ask("Who spoke with whom?")
    paragraphs = {q.paragraph for q in answer.quotes}
    assert {3, 8, 13} <= paragraphs  # Shoigu/Gerasimov; Stoltenberg; Gerasimov with Milley, Radakin


def test_quotes_carry_citations_and_a_highlighted_sentence(engine: Engine) -> None:
    answer = engine.ask("What did Mr. Stoltenberg say on Twitter?")
    quote = answer.quotes[0]
    document = engine.searcher.backend.documents[0].document
    assert quote.text == document.text[quote.start : quote.end]
    assert quote.title == document.title and quote.paragraph == 9
    highlighted = document.text[quote.highlight.start : quote.highlight.end]
    assert highlighted.startswith("Mr. Stoltenberg stated on Twitter")  # not split at "Mr."
    assert 0 < quote.score <= 1


def test_the_repeated_paragraph_is_quoted_once(engine: Engine) -> None:
    answer = engine.ask("What operation has the West long suspected Moscow of preparing?")
    quotes = answer.quotes + answer.more
    assert [q.paragraph for q in quotes if "false flag" in q.text] == [1]


def test_max_quotes_is_respected(engine: Engine) -> None:
    assert len(engine.ask("Who spoke with whom?", max_quotes=1).quotes) == 1


@pytest.mark.parametrize("question", ["", "   ", "?!", "x" * 5000])
def test_bad_questions_raise_a_clear_error(engine: Engine, question: str) -> None:
    with pytest.raises(QuestionError, match=r"empty|limit|no words"):
        engine.ask(question)


def test_summary_keeps_document_order_and_length(engine: Engine) -> None:
    summary = engine.summary(length=4)
    assert summary.answered and len(summary.quotes) == 4
    starts = [q.start for q in summary.quotes]
    assert starts == sorted(starts)
    assert len({q.text for q in summary.quotes}) == 4
    assert engine.summary(length="short").quotes and len(engine.summary(length="short").quotes) == 3


def test_topic_summary_stays_on_topic(engine: Engine) -> None:
    summary = engine.summary(topic="Gerasimov", length=2)
    assert summary.answered
    document = engine.searcher.backend.documents[0].document
    for quote in summary.quotes:
        start, end = document.paragraphs[quote.paragraph - 1]
        assert "Gerasimov" in document.text[start:end]


def test_topic_the_documents_do_not_cover_is_declined(engine: Engine) -> None:
    summary = engine.summary(topic="football world cup results")
    assert not summary.answered and "nothing about that" in summary.reason


def test_summary_of_an_unknown_document_names_the_known_ones(engine: Engine) -> None:
    with pytest.raises(QuestionError, match="dirty-bomb-claims"):
        engine.summary(document="missing")
    assert engine.summary(document="dirty-bomb-claims", length=2).answered
    with pytest.raises(QuestionError, match="Length"):
        engine.summary(length=99)


def test_sources_lists_paragraph_counts(engine: Engine) -> None:
    [source] = engine.sources()
    assert (source.document, source.paragraphs) == ("dirty-bomb-claims", 15)


def test_a_long_summary_names_the_people_at_the_centre_of_the_story(engine: Engine) -> None:
    text = " ".join(q.text for q in engine.summary(length="long").quotes)
    assert all(name in text for name in ("Shoigu", "Gerasimov", "Stoltenberg"))


@pytest.mark.parametrize(
    "question",
    [
        "What is the weather in Moscow?",
        "What is the capital of France?",
        "Who is the prime minister of the UK?",
    ],
)
def test_questions_about_something_else_near_a_known_name_abstain(
    engine: Engine, question: str
) -> None:
    assert not engine.ask(question).answered


def test_a_person_is_described_by_the_apposition_the_text_gives(engine: Engine) -> None:
    answer = engine.ask("Who is Admiral Sir Tony Radakin?")
    assert answer.answered and "the chief of the British defense command" in answer.quotes[0].text
