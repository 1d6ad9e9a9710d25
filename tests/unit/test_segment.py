"""Sentence splitting: abbreviations, quotation marks and exact offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.text.segmentation import sentence_spans


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_titles_and_initialisms_do_not_end_sentences() -> None:
    text = "Mr. Stoltenberg met Dr. Jones at 5 p.m. on Monday. U.S. officials agreed."
    assert sentences(text) == [
        "Mr. Stoltenberg met Dr. Jones at 5 p.m. on Monday.",
        "U.S. officials agreed.",
    ]


def test_a_closing_quotation_mark_stays_with_its_sentence() -> None:
    text = "Mr. Stoltenberg stated on Twitter that “NATO allies deny this assertion.” “Russia must not use this.”"
    assert sentences(text) == [
        "Mr. Stoltenberg stated on Twitter that “NATO allies deny this assertion.”",
        "“Russia must not use this.”",
    ]
    assert sentences('He said "Stop." Then he left.') == ['He said "Stop."', "Then he left."]
    assert sentences("“Why?” she asked.") == ["“Why?” she asked."]


alphabet = st.sampled_from(
    [*list("abc XYZ.!?\n\"“”'’—-,;:0123456789"), "Mr.", "Dr.", "U.S.", "e.g."]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(alphabet, max_size=80).map("".join))
def test_spans_are_ordered_trimmed_and_inside_the_text(text: str) -> None:
    spans = sentence_spans(text)
    position = 0
    for start, end in spans:
        assert position <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        position = end
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())  # no visible character is lost
