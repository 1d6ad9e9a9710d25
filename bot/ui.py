"""Discord's message limits, and the escaping and shortening that keep every reply within them."""

from __future__ import annotations

from urllib.parse import quote as percent_encode

import discord

from index import valid_url

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


def fit_footer(text: str) -> str:
    """Cut an embed footer to Discord's limit."""
    return shorten(text, FOOTER_LIMIT)


def embeds_size(embeds: list[discord.Embed]) -> int:
    """Count characters the way Discord does for its 6000-per-message limit."""
    total = 0
    for embed in embeds:
        total += len(embed.title or "") + len(embed.description or "")
        total += len(embed.footer.text or "") + len(embed.author.name or "")
        total += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    return total
