"""For channels where the bot answers unasked: the question in a message, and sure answers."""

from __future__ import annotations

import re

from index.answering.questions import strip_mentions
from index.results import Answer

# A short message with no question mark is still a question when it opens like one
# ("how do I reset my key"); "thanks, that worked" is chatter and gets no reply.
SHORT_MESSAGE_CHARS = 200
_OPENERS = frozenset(
    "who whom whose what which when where why how is are was were do does did can could "
    "should would will shall may might has have had am".split()
)
_QUESTION = re.compile(r"[^.!?\n]*\?")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_WORD = re.compile(r"[A-Za-z']+")


def question_in(message: str, *, short_chars: int = SHORT_MESSAGE_CHARS) -> str | None:
    """Return the message's first question, or the whole of a short one that opens as one."""
    # Code and mentions are not the question: a `?` inside code is no question mark.
    text = strip_mentions(_CODE.sub(" ", message)).strip()
    if not text:
        return None
    for found in _QUESTION.finditer(text):
        question = found.group(0).strip()
        if _WORD.search(question):
            return question
    if len(text) <= short_chars and _opens_as_question(text):
        return text
    return None


def _opens_as_question(text: str) -> bool:
    """Return whether the first word is one a question starts with."""
    first = _WORD.search(text)
    # Within the first characters: a quote mark or "> " may come first, a sentence may not.
    return first is not None and first.start() < 3 and first.group(0).casefold() in _OPENERS


def sure_answer(answer: Answer, threshold: float) -> Answer | None:
    """Return the answer with only the quotes rated `threshold` or more by the verifier, or None."""
    # Unasked replies must be right far more often than /ask's, so only the quotes the
    # verifier is surest of are given, best first; a passage it did not judge never is.
    sure = [q for q in answer.quotes if q.verifier is not None and q.verifier >= threshold]
    if not answer.answered or not sure:
        return None
    sure.sort(key=lambda quote: quote.verifier or 0.0, reverse=True)
    return answer._replace(quotes=sure)
