"""Questions as Discord delivers them: mention tokens, styled letters, empty input."""

from __future__ import annotations

import pytest

from index import Engine, QuestionError
from index.answering.questions import clean_question
from index.corpus.invisible import FORMAT_CHARACTERS


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("@everyone who spoke with whom?", "who spoke with whom?"),
        ("<@123456789> <@!42> who is <@&77> Ben Wallace <#1234>? @here", "who is Ben Wallace ?"),
        ("𝕎𝕙𝕠 𝕤𝕡𝕠𝕜𝕖 𝕨𝕚𝕥𝕙 𝕨𝕙𝕠𝕞?", "Who spoke with whom?"),
        ("Ｗｈｏ ｉｓ Ｂｅｎ Ｗａｌｌａｃｅ？", "Who is Ben Wallace?"),
        ("email me at a@everyone.org", "email me at a@everyone.org"),
    ],
)
def test_mentions_are_removed_and_letters_normalised(raw: str, cleaned: str) -> None:
    assert clean_question(raw, max_chars=1000) == cleaned


@pytest.mark.parametrize("invisible", list(FORMAT_CHARACTERS))
def test_format_characters_inside_words_are_removed_not_spaced(invisible: str) -> None:
    question = f"Who is Wal{invisible}lace?\tReally"
    assert clean_question(question, max_chars=100) == "Who is Wallace? Really"


@pytest.mark.parametrize("raw", ["<@123> @everyone", "@here", "<#55>"])
def test_a_question_of_only_mentions_is_empty(raw: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        clean_question(raw, max_chars=1000)


def test_mentions_and_styled_letters_still_get_an_answer(engine: Engine) -> None:
    plain = engine.ask("Who spoke with whom?")
    assert plain.answered
    for variant in ("@everyone who spoke with whom?", "𝕎𝕙𝕠 𝕤𝕡𝕠𝕜𝕖 𝕨𝕚𝕥𝕙 𝕨𝕙𝕠𝕞?"):
        answer = engine.ask(variant)
        assert answer.answered and answer.quotes[0].text == plain.quotes[0].text
