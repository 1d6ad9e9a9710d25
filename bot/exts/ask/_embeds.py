"""Answers as Discord embeds: quotes with their answering sentence in bold, and citations."""

from __future__ import annotations

import discord

from bot.ui import (
    ABSTAIN_COLOUR,
    COLOUR,
    DESCRIPTION_BUDGET,
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    TITLE_LIMIT,
    escape,
    fit_footer,
    safe_url,
    shorten,
)
from index import Answer, Quote

NOT_COVERED = "The documents don't cover that claim: I found no passage that bears on it."


def _shorten_head(text: str, limit: int) -> str:
    """Keep the end of text, cut at a word boundary, marking the cut at the front."""
    if len(text) <= limit:
        return text
    tail = text[len(text) - max(0, limit - 1) :]
    space = tail.find(" ")
    if 0 <= space < limit // 2:
        tail = tail[space + 1 :]
    return ELLIPSIS + tail


def quote_body(quote: Quote, budget: int) -> str:
    """Render a quote with its answering sentence in bold, trimmed around it to fit."""
    a = quote.highlight.start - quote.start
    b = quote.highlight.end - quote.start
    before, middle, after = (
        escape(quote.text[:a]),
        escape(quote.text[a:b]),
        escape(quote.text[b:]),
    )
    middle = shorten(middle, max(20, budget - 4))
    room = max(0, budget - len(middle) - 4)
    after_room = min(len(after), room // 2 if len(before) > room // 2 else room - len(before))
    before = _shorten_head(before, room - after_room) if room - after_room > 1 else ""
    after = shorten(after, after_room) if after_room > 1 else ""
    text = f"{before}**{middle.strip()}**{after}" if middle.strip() else before + after
    return "\n".join("> " + line if line.strip() else ">" for line in text.split("\n"))


def quote_citation(number: int, quote: Quote) -> str:
    """Return the bold citation line above a quote."""
    title = shorten(escape(quote.title), 120)
    url = safe_url(quote.source_url)
    if url:
        # A masked link to the original; angle brackets would suppress the preview, not the link.
        title = f"[{title}]({url})"
    return f"**[{number}] {title}** · paragraph {quote.paragraph} · relevance {quote.score:.2f}"


def quotes_embed(
    title: str, quotes: list[Quote], footer: str, first_number: int = 1
) -> discord.Embed:
    """Build one embed listing quotes, sharing the description budget among them."""
    citations = [quote_citation(first_number + i, q) for i, q in enumerate(quotes)]
    overhead = sum(len(c) + 3 for c in citations)
    share = max(80, (DESCRIPTION_BUDGET - overhead) // max(1, len(quotes)))
    blocks = [f"{c}\n{quote_body(q, share)}" for c, q in zip(citations, quotes, strict=True)]
    embed = discord.Embed(
        title=shorten(title, TITLE_LIMIT),
        description=shorten("\n\n".join(blocks), DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    embed.set_footer(text=fit_footer(footer))
    return embed


def answer_embeds(answer: Answer) -> list[discord.Embed]:
    """Render an answer (or an abstention) as embeds."""
    title = "Q: " + escape(answer.question)
    if not answer.answered:
        embed = discord.Embed(
            title=shorten(title, TITLE_LIMIT),
            description=escape(answer.reason) + "\nUse `/sources` to see what I can quote from.",
            colour=ABSTAIN_COLOUR,
        )
        embed.set_footer(text="Verbatim only quotes documents; it never makes up an answer.")
        return [embed]
    documents = len({q.document for q in answer.quotes})
    footer = f"Quoted verbatim from {documents} document{'s' if documents > 1 else ''}"
    if answer.more:
        footer += f" · {len(answer.more)} more quote{'s' if len(answer.more) > 1 else ''} available"
    if answer.note:  # e.g. no link names the person a who-spoke question asks about
        footer = f"{answer.note} · {footer}"
    return [quotes_embed(title, answer.quotes, footer)]


def more_quotes_embeds(answer: Answer) -> list[discord.Embed]:
    """Render the further quotes behind the "more quotes" button."""
    footer = "Further passages, ranked lower than the answer's quotes"
    return [
        quotes_embed(
            "More for: " + escape(answer.question), answer.more, footer, 1 + len(answer.quotes)
        )
    ]


def closest_embeds(answer: Answer) -> list[discord.Embed]:
    """Render the passages nearest to an unanswered question, marked as no answer."""
    footer = "These passages came closest, but the verifier judged that none answers the question"
    embed = quotes_embed(
        "Closest passages (may not answer): " + escape(answer.question),
        list(answer.closest),
        footer,
    )
    embed.colour = ABSTAIN_COLOUR
    return [embed]


def claim_sources_embeds(answer: Answer) -> list[discord.Embed]:
    """Render the passages that bear on a claim, or say that none do."""
    title = shorten("Sources for: " + escape(answer.question), 256)
    if not answer.answered:
        return [discord.Embed(title=title, description=NOT_COVERED, colour=ABSTAIN_COLOUR)]
    quotes = answer.quotes + answer.more
    footer = "Passages that bear on the claim, quoted verbatim; judge for yourself."
    return [quotes_embed(title, quotes[:5], footer)]
