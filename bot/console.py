"""Plain-text rendering of answers and the interactive console (`python -m bot chat`)."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Callable
from typing import TextIO

from bot.relations_text import format_relations
from index import Answer, Engine, QuestionError, Quote, Summary

CHAT_HELP = """Ask a question about the documents, or:
  /summary [topic]   summarise (optionally on a topic)
  /sources           list the documents
  /help              this text
  /quit              leave (Ctrl-D works too)"""


# Terminal escape sequences (CSI, OSC and the rest), then any other control character.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Remove terminal escapes and control characters (a document must not drive the console)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def _emphasise(quote: Quote, bold: bool) -> str:
    """Return the quote text with its answering sentence marked."""
    a = quote.highlight.start - quote.start
    b = quote.highlight.end - quote.start
    on, off = ("\033[1m", "\033[0m") if bold else ("**", "**")
    text = quote.text
    return printable(text[:a]) + on + printable(text[a:b]) + off + printable(text[b:])


def format_quote(number: int, quote: Quote, *, bold: bool = False) -> str:
    """Render one numbered quote with its citation."""
    title = printable(quote.title)
    cite = f"[{number}] {title}, paragraph {quote.paragraph} (relevance {quote.score:.2f})"
    body = textwrap.fill(
        _emphasise(quote, bold),
        width=100,
        initial_indent="    ",
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    return f"{cite}\n{body}"


def format_answer(answer: Answer, *, bold: bool = False, closest: bool = False) -> str:
    """Render an answer, or the reason it abstained (with the closest passages if asked)."""
    if not answer.answered:
        if not closest or not answer.closest:
            return printable(answer.reason)
        near = "\n\n".join(format_quote(n, q, bold=bold) for n, q in enumerate(answer.closest, 1))
        return f"{printable(answer.reason)}\n\nClosest passages (may not answer):\n\n{near}"
    quotes = "\n\n".join(format_quote(n, q, bold=bold) for n, q in enumerate(answer.quotes, 1))
    return f"{printable(answer.note)}\n\n{quotes}" if answer.note else quotes


def format_summary(summary: Summary) -> str:
    """Render a summary as cited sentences in document order."""
    if not summary.answered:
        return printable(summary.reason)
    lines = [printable(f"- {q.text} [{q.title}, paragraph {q.paragraph}]") for q in summary.quotes]
    return "\n".join(lines)


def format_sources(engine: Engine) -> str:
    """List the indexed documents."""
    rows = [
        f"- {s.document}: {s.title} ({s.paragraphs} paragraphs, {s.sentences} sentences indexed)"
        for s in engine.sources()
    ]
    problems = [f"! skipped {p.path}: {p.reason}" for p in engine.problems]
    listing = printable("\n".join(rows + problems))
    return listing or "No documents are indexed. Add files to the corpus folder."


def as_json(value: Answer | Summary, *, closest: bool = False) -> str:
    """Serialise an answer or summary for --json (an answer's closest passages if asked)."""
    shape = value.as_json(closest=closest) if isinstance(value, Answer) else value.as_json()
    return json.dumps(shape, ensure_ascii=False, indent=2)


def chat(engine: Engine, read: Callable[[str], str] = input, out: TextIO = sys.stdout) -> None:
    """Run the question loop until /quit or end of input."""
    bold = out.isatty()
    print(f"Verbatim console: {len(engine.sources())} document(s). /help for commands.", file=out)
    while True:
        try:
            line = read("? ").strip()
        except (EOFError, KeyboardInterrupt):
            print(file=out)
            return
        if not line:
            continue
        command, _, rest = line.partition(" ")
        try:
            if command in ("/quit", "/exit"):
                return
            elif command == "/help":
                reply = CHAT_HELP
            elif command == "/sources":
                reply = format_sources(engine)
            elif command == "/summary":
                reply = format_summary(engine.summary(topic=rest.strip() or None))
            elif (routed := engine.relations_for_question(line)) is not None:
                # The relations graph answers who spoke with whom best: every link, quoted.
                reply = format_relations(routed)
            else:
                reply = format_answer(engine.ask(line), bold=bold)
        except QuestionError as error:
            reply = str(error)
        print(reply + "\n", file=out)
