"""Embeds stay within Discord's limits and neutralise markdown and mentions, whatever the text."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.exts.ask._embeds import answer_embeds, more_quotes_embeds
from bot.exts.info import sources_embeds
from bot.exts.summary import summary_embeds
from bot.ui import embeds_size, escape, shorten
from index import Answer, Highlight, Quote, SourceInfo, Summary
from tests.support.discord_spec import limit_errors

PIECES = [
    *"ab *_~`|>\\@#<&:!\n",
    "@everyone",
    "```",
    "<@123456789012345678>",
    "é",
    "🔥",
    "word " * 40,
]
nasty = st.lists(st.sampled_from(PIECES), max_size=400).map("".join)


def quote(text: str, number: int = 1) -> Quote:
    third = len(text) // 3
    return Quote(
        f"doc{number}",
        "T" * 300 + text[:50],
        number,
        0,
        len(text),
        text,
        0.5,
        Highlight(third, max(third + 1, 2 * third)),
    )


def message(embeds: list[Any]) -> dict[str, Any]:
    return {"embeds": [e.to_dict() for e in embeds]}


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(nasty.filter(lambda t: len(t) > 1), min_size=1, max_size=5), question=nasty)
def test_answers_fit_discords_limits(texts: list[str], question: str) -> None:
    quotes = [quote(t, i) for i, t in enumerate(texts, 1)]
    answer = Answer(question or "q", True, quotes[:3], quotes[3:])
    for embeds in (answer_embeds(answer), more_quotes_embeds(answer) if answer.more else []):
        assert limit_errors(message(embeds)) == []
        assert embeds_size(embeds) <= 6000
        for embed in embeds:
            assert "@everyone" not in (embed.description or "") + (embed.title or "")


@settings(max_examples=30, deadline=None)
@given(texts=st.lists(nasty, min_size=1, max_size=15))
def test_summaries_and_sources_fit(texts: list[str]) -> None:
    quotes = [quote(t or "x", i) for i, t in enumerate(texts, 1)]
    assert limit_errors(message(summary_embeds(Summary(None, "topic", quotes, True)))) == []
    sources = [
        SourceInfo(f"d{i}", t or "x", "f", 3, 9, None, None) for i, t in enumerate(texts * 3)
    ]
    embeds = sources_embeds(sources, ["broken.pdf"] * 50)
    assert limit_errors(message(embeds)) == [] and len(embeds[0].fields) <= 25


def test_the_answering_sentence_is_bold_and_markdown_is_escaped() -> None:
    text = "Intro *with* stars. The **answer** is here. Outro."
    start = text.index("The")
    q = Quote(
        "d",
        "Title",
        2,
        0,
        len(text),
        text,
        0.9,
        Highlight(start, start + len("The **answer** is here.")),
    )
    [embed] = answer_embeds(Answer("Who? @everyone", True, [q], []))
    assert embed.description is not None and embed.title is not None
    assert "**The \\*\\*answer\\*\\* is here.**" in embed.description
    assert "Intro \\*with\\* stars." in embed.description
    assert "@\u200beveryone" in embed.title and "paragraph 2" in embed.description


def test_shorten_cuts_at_words_and_marks_the_cut() -> None:
    assert shorten("short", 10) == "short"
    cut = shorten("one two three four five six", 12)
    assert len(cut) <= 12 and cut.endswith("…") and cut.startswith("one two")
    assert not shorten("a\\" * 20, 10).endswith("\\…")
    assert escape("<@&1234567890123456789>") != "<@&1234567890123456789>"


def test_a_source_url_becomes_a_link_in_the_citation() -> None:
    q = Quote("d", "Title", 1, 0, 5, "Hello", 0.5, Highlight(0, 5), "https://example.org/a_(b)")
    [embed] = answer_embeds(Answer("q", True, [q], []))
    assert "[Title](https://example.org/a_(b%29)" in (embed.description or "")
    local = q._replace(source_url="javascript:alert(1)")
    assert "javascript" not in (answer_embeds(Answer("q", True, [local], []))[0].description or "")
