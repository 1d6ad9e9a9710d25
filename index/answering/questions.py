"""Check and tidy a user's question before it reaches retrieval."""

from __future__ import annotations

import re
import unicodedata

from index.corpus.invisible import remove_format_characters
from index.errors import QuestionError

# Discord's user, nickname, role, channel and slash-command mentions, and the two mass pings.
_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|</[\w -]+:\d+>|(?<![\w.@])@(?:everyone|here)\b")


def strip_zalgo(text: str) -> str:
    """Drop combining marks that form no precomposed letter: real accents stay, "zalgo" goes."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char) and kept:
            if len(unicodedata.normalize("NFC", kept[-1] + char)) == 1:
                kept[-1] = unicodedata.normalize("NFC", kept[-1] + char)
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def strip_mentions(text: str) -> str:
    """Remove Discord mention tokens: they address people, they are not part of the question."""
    return _MENTION.sub(" ", text)


def clean_question(question: str, *, max_chars: int) -> str:
    """Return the question with zalgo and odd spacing removed, or raise QuestionError."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    # NFKC reads styled letters ("𝕎𝕙𝕠", full-width, ligatures) as the plain ones they stand for.
    # Format characters are removed, not spaced: inside a word they would split it in two.
    text = unicodedata.normalize("NFKC", strip_zalgo(remove_format_characters(question)))
    text = strip_mentions(text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty. Ask something about the documents.")
    if len(text) > max_chars:
        raise QuestionError(
            f"The question is {len(text)} characters long; the limit is {max_chars}. "
            "Ask it more briefly."
        )
    if not re.search(r"\w", text):
        raise QuestionError("The question has no words in it. Ask something about the documents.")
    return text
