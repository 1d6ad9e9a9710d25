"""Questions about named people: the people must be named, and "what did X say" needs X's words."""

from __future__ import annotations

import pytest

from index import Engine
from index.answering.attribution import NOTHING, names_present, question_needs, reports_words_of
from tests.conftest import one_text_engine

# Made up, so that nothing here was seen in training or tuning.
COUNCIL = """Velmora council meeting

The mayor, Tomas Vell, met the engineer Ilse Marquardt on Friday to discuss the harbour bridge.

Vell said that the bridge would reopen in May after repairs to its piers.

Marquardt's assistant told reporters that the piers were sound.

According to Anna Berg, the council's treasurer, the repairs cost four million crowns.
"""


def test_the_question_says_whose_words_it_wants() -> None:
    assert question_needs("What did Tomas Vell say about the bridge?").speaker == "vell"
    assert question_needs("What did Mayor Vell tell the council?").speaker == "vell"
    assert question_needs("Who met Tomas Vell?").speaker is None
    assert question_needs("Who met Tomas Vell?").names == ("vell",)
    assert question_needs("When will the bridge reopen?") == NOTHING


@pytest.mark.parametrize(
    ("speaker", "sentence", "before", "expected"),
    [
        ("vell", "Vell said that the bridge would reopen in May.", "", True),
        ("vell", "The mayor, Tomas Vell, announced a second bridge.", "", True),
        ("berg", "According to Anna Berg, the repairs cost four million crowns.", "", True),
        ("vell", "Vell met the engineer Ilse Marquardt on Friday.", "", False),
        ("marquardt", "Marquardt's assistant told reporters that the piers were sound.", "", False),
        ("vell", "An aide to Vell said the bridge was safe.", "", False),
        ("vell", "“It will reopen in May.”", "Vell said on Friday: “The piers are sound.”", True),
        ("vell", "The piers are sound.", "Vell said on Friday that work had begun.", False),
        ("vell", "Mayor Tomas Vell was quoted as saying the piers are sound.", "", True),
        ("vell", "He said the piers are sound.", "Vell arrived at noon.", True),
        ("vell", "He said the piers are sound.", "Berg arrived at noon.", False),
    ],
)
def test_a_sentence_gives_a_persons_words_only_when_it_attributes_them(
    speaker: str, sentence: str, before: str, expected: bool
) -> None:
    assert reports_words_of(speaker, sentence, before) is expected


def test_a_person_the_document_never_names_is_missing_even_with_accents() -> None:
    text = "Beyoncé sang at the opening of the bridge."
    assert names_present(question_needs("What did Beyonce sing?"), text)
    assert not names_present(question_needs("What did Olga Petrova sing?"), text)


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return one_text_engine(tmp_path_factory.mktemp("council"), "council.txt", COUNCIL)


def test_what_a_speaker_said_is_quoted(council: Engine) -> None:
    answer = council.ask("What did Vell say about the bridge?")
    assert answer.answered and "reopen in May" in answer.quotes[0].text


@pytest.mark.parametrize(
    "question",
    [
        "What did Ilse Marquardt say about the bridge?",  # named, but her assistant speaks
        "What did Olga Petrova say about the bridge?",  # never named at all
        "What did Vell tell Marquardt on Friday?",  # they met; what was said is not reported
    ],
)
def test_words_the_text_never_gives_are_not_quoted(council: Engine, question: str) -> None:
    answer = council.ask(question)
    assert not answer.answered and answer.quotes == []


def test_engine_search_ranks_by_the_same_judgement(council: Engine) -> None:
    passages = council.search("What did Vell say about the bridge?", k=3)
    assert passages[0].paragraph == 3
