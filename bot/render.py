"""Turn engine results into Discord embeds that always fit Discord's limits."""

from __future__ import annotations

from urllib.parse import quote as percent_encode

import discord

from index import Answer, Quote, SourceInfo, Summary, capped_list, valid_url

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
FIELDS_LIMIT = 25
EMBEDS_LIMIT = 10
# Leave room under Discord's hard limits for the title and footer of the same embed.
DESCRIPTION_BUDGET = 3800
ELLIPSIS = "…"
COLOUR = discord.Colour.from_rgb(88, 101, 242)
ABSTAIN_COLOUR = discord.Colour.from_rgb(150, 150, 150)
# Every message the bot sends uses this: nothing it echoes or quotes may ping anyone.
NO_PINGS = discord.AllowedMentions.none()


def escape(text: str) -> str:
    """Neutralise markdown and mentions in text that came from a user or a document."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text, ignore_links=False))


def safe_url(url: str | None) -> str | None:
    """Return an http(s) URL with markdown- and mention-active characters percent-encoded."""
    checked = valid_url(url)
    if checked is None:
        return None
    # "@", "[", "]" and ")" could end a masked link early or smuggle in a mention-like label.
    return percent_encode(checked, safe=":/?#&=%+,;~-._!$'*(")[:500]


def shorten(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters at a word boundary, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    # Never leave a dangling escape backslash that would swallow the ellipsis.
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut + ELLIPSIS


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


def _footer(text: str) -> str:
    return shorten(text, FOOTER_LIMIT)


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
    embed.set_footer(text=_footer(footer))
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


def summary_embeds(summary: Summary) -> list[discord.Embed]:
    """Render a summary as one embed of cited sentences in document order."""
    what = escape(summary.document or "all documents")
    title = f"Summary of {what}" + (f" on {escape(summary.topic)}" if summary.topic else "")
    if not summary.answered:
        embed = discord.Embed(
            title=shorten(title, TITLE_LIMIT),
            description=escape(summary.reason),
            colour=ABSTAIN_COLOUR,
        )
        return [embed]
    share = DESCRIPTION_BUDGET // max(1, len(summary.quotes)) - 20
    lines = [f"• {shorten(escape(q.text), share)} [¶{q.paragraph}]" for q in summary.quotes]
    titles = sorted({q.title for q in summary.quotes})
    embed = discord.Embed(
        title=shorten(title, TITLE_LIMIT),
        description=shorten("\n".join(lines), DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    embed.set_footer(text=_footer("Sentences quoted verbatim from " + "; ".join(titles)))
    return [embed]


def sources_embeds(sources: list[SourceInfo], skipped: list[str]) -> list[discord.Embed]:
    """List the documents, one field each (up to Discord's 25), with their paragraph counts."""
    embed = discord.Embed(title="Sources", colour=COLOUR)
    if not sources:
        embed.description = "No documents are indexed yet."
    shown = sources[: FIELDS_LIMIT - 1] if len(sources) > FIELDS_LIMIT else sources
    for source in shown:
        value = f"`{escape(source.document)}` · {source.paragraphs} paragraphs"
        url = safe_url(source.source_url)
        if url:
            value += f"\n<{url}>"
        embed.add_field(
            name=shorten(escape(source.title), 256), value=shorten(value, 1024), inline=False
        )
    if len(sources) > len(shown):
        embed.add_field(
            name="…", value=f"and {len(sources) - len(shown)} more documents", inline=False
        )
    if skipped:
        embed.set_footer(text=_footer("Skipped (unreadable): " + capped_list(skipped, budget=1800)))
    return [embed]


HELP_TEXT = (
    "I answer questions about my documents by **quoting them word for word**, with the "
    "document, paragraph and a relevance score. I never write an answer myself, so nothing "
    "is made up; if the documents don't say, I tell you.\n\n"
    "`/ask question` — quotes that answer, the answering sentence in bold\n"
    "`/summary [document] [topic] [length]` — the key sentences, in document order\n"
    "`/relations [person] [document]` — who spoke with whom: a picture and the quotes\n"
    "`/sources` — the documents I can quote\n"
    "`/docs add|list|remove|reindex` — this server's own documents (adding and removing "
    "needs **Manage Server**)\n"
    "`/help` — this message\n\n"
    "You can also mention me with a question, or send me a direct message. On any message, "
    "**Apps → Ask Verbatim** asks its text, and **Apps → Find sources** quotes what bears on it."
)


def help_embeds() -> list[discord.Embed]:
    """Explain what the bot does and how to use it."""
    return [discord.Embed(title="Verbatim", description=HELP_TEXT, colour=COLOUR)]


def embeds_size(embeds: list[discord.Embed]) -> int:
    """Count characters the way Discord does for its 6000-per-message limit."""
    total = 0
    for embed in embeds:
        total += len(embed.title or "") + len(embed.description or "")
        total += len(embed.footer.text or "") + len(embed.author.name or "")
        total += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    return total
