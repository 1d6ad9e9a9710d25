"""The benchmark helpers that replay the verifier's reranking and read the SQuAD questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.rerank_budget import Case, Scored, recall
from bench.squad_corpus import answerable_questions
from index.answering.judging import judged_sentence
from tests.conftest import SHARED, one_text_engine


def case(gold: str, *passages: tuple[str, float, list[float]]) -> Case:
    return Case(gold, False, [Scored(pid, fused, probs) for pid, fused, probs in passages])


def test_the_replay_lifts_a_passage_the_verifier_accepts_within_the_budget() -> None:
    # Retrieval puts the gold passage second; the verifier is sure of it and doubts the first.
    cases = [case("b", ("a", 1.0, [0.05, 0.999]), ("b", 0.8, [0.99]), ("c", 0.1, [0.5]))]
    assert recall(cases, (), 1.0) == (0.0, 1.0)  # nothing read: retrieval's order
    assert recall(cases, (1, 1), 1.0) == (1.0, 1.0)
    assert recall(cases, (1, 1), 0.0) == (0.0, 1.0)  # weight 0: the verifier cannot reorder
    # Two sentences of "a" read: its second (0.999) now outranks "b" at weight 1.
    assert recall(cases, (2, 1), 1.0) == (0.0, 1.0)


def test_a_passage_past_the_budget_keeps_its_retrieval_place() -> None:
    passages = [(p, 1.0 - i / 10, [0.01]) for i, p in enumerate("abcdef")]
    cases = [case("f", *passages[:5], ("f", 0.5, [0.99]))]
    assert recall(cases, (1,) * 5, 1.0) == (0.0, 0.0)  # f, unread, stays sixth
    assert recall(cases, (1,) * 6, 1.0) == (1.0, 1.0)


def test_judged_sentences_take_neighbours_from_their_own_paragraph_only(tmp_path: Path) -> None:
    text = (
        "The ferry left at noon. It carried forty cars.\n\nThe bridge opened in May. Tolls ended."
    )
    engine = one_text_engine(tmp_path, "harbour.txt", text)
    item = engine.searcher.backend.documents[0]
    first_of_second = next(i for i, s in enumerate(item.sentences) if s.paragraph == 2)
    judged = judged_sentence(item, first_of_second)
    assert judged.sentence == "The bridge opened in May."
    assert judged.before == ""
    assert judged.after == "Tolls ended."
    assert judged_sentence(item, first_of_second - 1).after == ""


@pytest.mark.skipif(not (SHARED / "eval").is_dir(), reason="needs ../shared/eval")
def test_a_question_sample_outside_the_set_is_refused_by_name() -> None:
    total = len(answerable_questions())
    assert len(answerable_questions(5)) == 5
    for bad in (-1, total + 1):
        with pytest.raises(ValueError, match="--questions must be between 0"):
            answerable_questions(bad)
