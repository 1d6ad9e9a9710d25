"""Relations replies stay within Discord's limits however many links there are."""

from __future__ import annotations

from typing import Any

from bot.exts.relations._embeds import PER_PAGE, answer_embeds, map_embed, pages, quote_embed
from bot.exts.relations._views import LinkQuotes
from bot.ui import embeds_size
from index.relations.graph import Evidence, Link, Node, RelationGraph, Relations
from tests.support.discord_spec import limit_errors

SENTENCE = "@everyone Minister **Hub** Keller met the envoy " + "and spoke at length " * 40 + "."


def crowd(size: int) -> Relations:
    nodes = [Node("hub", "Hub <@123456789012345678> Keller", "PERSON")]
    nodes += [Node(f"n{i}", f"Envoy Number {i} " + "x" * 60, "PERSON") for i in range(size)]
    links = [
        Link("hub", f"n{i}", "met", "on Monday", (Evidence("d", "Doc", i + 1, 0, 9, SENTENCE),))
        for i in range(size)
    ]
    return Relations(RelationGraph(tuple(nodes), tuple(links)), True)


def as_body(embeds: list[Any]) -> dict[str, Any]:
    return {"embeds": [e.to_dict() for e in embeds]}


def test_the_link_list_is_paged_within_limits() -> None:
    relations = crowd(95)
    assert pages(relations) == 5
    for page in range(pages(relations)):
        embed = map_embed(relations, page, left_out=71)
        assert limit_errors(as_body([embed])) == []
        lines = (embed.description or "").splitlines()
        assert len(lines) == min(PER_PAGE, 95 - page * PER_PAGE)
        footer = embed.footer.text or ""
        assert f"page {page + 1}/5" in footer and "leaves out 71" in footer
        menu = LinkQuotes(relations, page)
        assert len(menu.options) == len(lines) <= 25
        assert all(len(o.label) <= 100 for o in menu.options)


def test_answers_and_quotes_fit_and_ping_no_one() -> None:
    relations = crowd(60)
    embeds = answer_embeds(relations, "Who spoke with whom?")
    assert len(embeds) <= 10 and embeds_size(embeds) <= 6000
    assert limit_errors(as_body(embeds)) == []
    assert "more sentences: use /relations" in (embeds[-1].footer.text or "")
    quote = quote_embed(relations, 0)
    text = (quote.title or "") + (quote.description or "")
    assert "@everyone" not in text and "<@123456789012345678>" not in text and "**Hub**" not in text
