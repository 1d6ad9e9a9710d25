"""The plain values the engine returns: quotes, answers, summaries and sources."""

from __future__ import annotations

from typing import Any, NamedTuple


class Highlight(NamedTuple):
    """Offsets, into the document, of the sentence that answers."""

    start: int
    end: int


class Quote(NamedTuple):
    """A verbatim passage: text == document.text[start:end]."""

    document: str
    title: str
    paragraph: int
    start: int
    end: int
    text: str
    score: float
    highlight: Highlight
    source_url: str | None = None
    verifier: float | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the JSON shape the CLI prints."""
        return {
            "document": self.document,
            "title": self.title,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
            "verifier": self.verifier,
            "highlight": {"start": self.highlight.start, "end": self.highlight.end},
        }


class Answer(NamedTuple):
    """Up to three quotes that answer a question, or an abstention with the reason."""

    question: str
    answered: bool
    quotes: list[Quote]
    more: list[Quote]
    reason: str = ""
    # On an abstention, the passages that came closest; shown only on request, never as an answer.
    closest: tuple[Quote, ...] = ()
    # Said beside the quotes: that a who-spoke question named someone no link knows.
    note: str = ""

    def as_json(self, *, closest: bool = False) -> dict[str, Any]:
        """Return the JSON shape the CLI prints; `closest` adds the near passages."""
        shape = {
            "question": self.question,
            "answered": self.answered,
            "quotes": [quote.as_json() for quote in self.quotes],
            "more": [quote.as_json() for quote in self.more],
            "reason": self.reason,
            "note": self.note,
        }
        if closest:
            shape["closest"] = [quote.as_json() for quote in self.closest]
        return shape


class Summary(NamedTuple):
    """Sentences quoted in document order, each a quote with its citation."""

    document: str | None
    topic: str | None
    quotes: list[Quote]
    answered: bool
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """Return the JSON shape the CLI prints."""
        return {
            "question": f"summary of {self.document or 'all documents'}"
            + (f" on {self.topic}" if self.topic else ""),
            "document": self.document,
            "topic": self.topic,
            "answered": self.answered,
            "quotes": [quote.as_json() for quote in self.quotes],
            "reason": self.reason,
        }


class SourceInfo(NamedTuple):
    """A document as listed by /sources."""

    document: str
    title: str
    source: str
    paragraphs: int
    sentences: int
    source_url: str | None
    date: str | None


class Passage(NamedTuple):
    """A ranked paragraph, as the benchmarks see retrieval."""

    document: str
    paragraph: int
    score: float
    relevance: float
