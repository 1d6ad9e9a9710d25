"""What in a channel message reads as a question, for auto-answer channels."""

from __future__ import annotations

import pytest

from index.answering.asking import question_in


@pytest.mark.parametrize(
    ("message", "question"),
    [
        ("Who spoke with the minister?", "Who spoke with the minister?"),
        (
            "Hi all. I read the article. Who did Zelensky speak with? Thanks!",
            "Who did Zelensky speak with?",
        ),
        ("how do I reset my key", "how do I reset my key"),
        ("<@123> what did the IAEA say?", "what did the IAEA say?"),
    ],
)
def test_a_question_is_found(message: str, question: str) -> None:
    assert question_in(message) == question


@pytest.mark.parametrize(
    "message",
    [
        "thanks, that worked",
        "lol",
        "",
        "<@123>",
        "Run `ls -la?` and paste the output.",
        "How " + "very " * 60 + "long this is",  # long, and no question mark
        "???",
    ],
)
def test_chatter_is_not_a_question(message: str) -> None:
    assert question_in(message) is None
