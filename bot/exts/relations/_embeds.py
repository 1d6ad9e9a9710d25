"""Turn who-spoke-with-whom results into Discord embeds that fit Discord's limits."""

from __future__ import annotations

import discord

from bot.relations_text import link_line
from bot.ui import (
    ABSTAIN_COLOUR,
    COLOUR,
    DESCRIPTION_BUDGET,
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    TITLE_LIMIT,
    escape,
    shorten,
)
from index import Link, Relations

PER_PAGE = 20
PICTURE = "relations.png"
# Several embeds share Discord's 6000-character budget per message; keep clear of it.
TOTAL_BUDGET = 5500


def pages(relations: Relations) -> int:
    """Count the pages of the link list."""
    return max(1, -(-len(relations.graph.links) // PER_PAGE))


def page_links(relations: Relations, page: int) -> list[tuple[int, Link]]:
    """Return the numbered links shown on one page."""
    links = list(enumerate(relations.graph.links))
    return links[page * PER_PAGE : (page + 1) * PER_PAGE]


def title_of(relations: Relations) -> str:
    """Return "Who spoke with whom", or with one person."""
    if relations.person is not None:
        return shorten(f"Who spoke with {escape(relations.person.name)}", TITLE_LIMIT)
    return "Who spoke with whom"


def reason_embed(relations: Relations) -> discord.Embed:
    """Explain why there is nothing to show (no one by that name, no interactions)."""
    return discord.Embed(
        title=title_of(relations),
        description=shorten(escape(relations.reason), DESCRIPTION_LIMIT),
        colour=ABSTAIN_COLOUR,
    )


def map_embed(
    relations: Relations, page: int, *, left_out: int = 0, picture: bool = True
) -> discord.Embed:
    """List one page of links under the picture of the graph."""
    graph = relations.graph
    lines = [
        f"`{n + 1}.` {escape(link_line(graph, link))}" for n, link in page_links(relations, page)
    ]
    embed = discord.Embed(
        title=title_of(relations),
        description=shorten("\n".join(lines), DESCRIPTION_BUDGET),
        colour=COLOUR,
    )
    if picture:
        embed.set_image(url=f"attachment://{PICTURE}")
    footer = f"{len(graph.links)} links between {len(graph.nodes)} parties"
    if left_out:
        footer += f" · the picture leaves out {left_out} less connected"
    if pages(relations) > 1:
        footer += f" · page {page + 1}/{pages(relations)}"
    embed.set_footer(text=footer + " · pick a link below for its quote")
    return embed


def quote_embed(relations: Relations, number: int) -> discord.Embed:
    """Quote the sentences one link rests on, with their citations."""
    graph = relations.graph
    link = graph.links[number]
    share = DESCRIPTION_BUDGET // max(1, len(link.evidence)) - 120
    blocks = [
        f"**{shorten(escape(e.title), 120)}** · paragraph {e.paragraph}\n> "
        + shorten(escape(e.text), share).replace("\n", "\n> ")
        for e in link.evidence
    ]
    return discord.Embed(
        title=shorten(f"{escape(link_line(graph, link))} · {escape(link.kind)}", TITLE_LIMIT),
        description=shorten("\n\n".join(blocks), DESCRIPTION_LIMIT),
        colour=COLOUR,
    )


def answer_embeds(relations: Relations, question: str) -> list[discord.Embed]:
    """List every link with its quote, as /ask's reply; links sharing a sentence share a quote."""
    if not relations.answered:
        embed = reason_embed(relations)
        embed.title = shorten("Q: " + escape(question), TITLE_LIMIT)
        return [embed]
    graph = relations.graph
    blocks: list[str] = []
    group: list[str] = []
    for i, link in enumerate(graph.links):
        group.append(escape(link_line(graph, link)))
        following = graph.links[i + 1] if i + 1 < len(graph.links) else None
        if following is None or following.evidence != link.evidence:
            quotes = "\n".join("> " + shorten(escape(e.text), 700) for e in link.evidence)
            blocks.append(shorten("**" + "**\n**".join(group) + "**\n" + quotes, 3000))
            group = []
    texts: list[str] = []
    total = len(question) + 200  # the title and footer count towards the 6000 too
    shown = 0
    for block in blocks:
        if total + len(block) + 2 > TOTAL_BUDGET:
            break
        if texts and len(texts[-1]) + 2 + len(block) <= DESCRIPTION_BUDGET:
            texts[-1] += "\n\n" + block
        elif len(texts) < EMBEDS_LIMIT:
            texts.append(block)
        else:
            break
        total += len(block) + 2
        shown += 1
    title = shorten("Q: " + escape(question), TITLE_LIMIT)
    embeds = [
        discord.Embed(title=title if i == 0 else None, description=text, colour=COLOUR)
        for i, text in enumerate(texts or [""])
    ]
    footer = f"{len(graph.links)} links, each with the sentence it rests on"
    if shown < len(blocks):
        footer += f" · {len(blocks) - shown} more sentences: use /relations"
    embeds[-1].set_footer(text=footer + " · the picture: button below or /relations")
    return embeds
