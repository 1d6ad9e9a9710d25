"""Characters that change nothing a reader sees, and are removed before text is read."""

from __future__ import annotations

# Soft hyphen, zero-width space, non-joiner and joiner, word joiner, and the BOM (a zero-width
# no-break space). Inside a word they would split it in two ("Wal\u200blace"), so they are
# removed, never replaced by a space.
FORMAT_CHARACTERS = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_REMOVE = str.maketrans("", "", FORMAT_CHARACTERS)


def remove_format_characters(text: str) -> str:
    """Return the text without its invisible format characters."""
    return text.translate(_REMOVE)
