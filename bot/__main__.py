"""Command line: `python -m bot run | index | ask | summary | relations | sources | chat`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.relations_text import format_relations, relations_json
from index import ConfigError, Engine, EngineSettings, QuestionError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Verbatim answers questions about documents by quoting them verbatim.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="connect to Discord (or open the console without a token)")
    commands.add_parser("index", help="bring the index up to date with the corpus folder")
    ask = commands.add_parser("ask", help="answer one question with quotes")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print JSON")
    summary = commands.add_parser("summary", help="summarise a document, optionally on a topic")
    summary.add_argument("--topic", "-t")
    summary.add_argument("--doc", "-d", help="document id or title (default: all)")
    summary.add_argument("--length", "-n", default="5", help="sentences, or short/medium/long")
    summary.add_argument("--json", action="store_true", help="print JSON")
    relations = commands.add_parser("relations", help="who spoke, met or talked with whom")
    relations.add_argument("--person", "-p", help="only this person's links")
    relations.add_argument("--doc", "-d", help="only this document (id or title)")
    relations.add_argument("--png", metavar="FILE", help="also draw the graph into FILE")
    relations.add_argument("--json", action="store_true", help="print networkx node-link JSON")
    commands.add_parser("sources", help="list the indexed documents")
    commands.add_parser("chat", help="ask questions interactively")
    commands.add_parser("health", help="exit 0 if the running bot reported in recently")
    return parser


def _open_engine(show_progress: bool = False) -> Engine:
    return Engine.open(load_settings(EngineSettings), show_progress=show_progress)


def _relations(engine: Engine, args: argparse.Namespace) -> int:
    """Print who spoke with whom, and draw it when asked; 1 when there is nothing to show."""
    relations = engine.relations(person=args.person, document=args.doc)
    print(relations_json(relations) if args.json else format_relations(relations))
    if args.png and relations.answered:
        from index.relations_draw import draw

        picture = draw(relations.graph)
        Path(args.png).write_bytes(picture.png)
        if not args.json:
            print(f"Drew {picture.shown} parties into {args.png}.")
    return 0 if relations.answered else 1


def run_command(args: argparse.Namespace) -> int:
    """Carry out one parsed command; return the exit status."""
    from bot import console

    command = args.command or "run"
    if command == "health":
        from bot.runner import healthy

        return 0 if healthy() else 1
    if command == "run":
        from bot.runner import run

        return run()
    engine = _open_engine(show_progress=command == "index")
    if command == "index":
        report = engine.last_sync
        print(
            f"Indexed {len(engine.sources())} document(s), "
            f"{engine.searcher.size} sentence windows: "
            f"embedded {len(report.embedded)}, reused {len(report.reused)}, "
            f"removed {len(report.removed)} in {report.seconds:.1f}s."
        )
        if report.rebuilt_because:
            print(f"Built from scratch: {report.rebuilt_because}.")
        for problem in engine.problems:
            print(f"Skipped {problem.path}: {problem.reason}", file=sys.stderr)
    elif command == "ask" and (routed := engine.relations_for_question(args.question)):
        # Who spoke with whom is answered from the extracted links (issue 9).
        print(relations_json(routed, args.question) if args.json else format_relations(routed))
    elif command == "ask":
        answer = engine.ask(args.question)
        print(
            console.as_json(answer)
            if args.json
            else console.format_answer(answer, bold=sys.stdout.isatty())
        )
    elif command == "summary":
        length: int | str = int(args.length) if str(args.length).isdigit() else args.length
        summary = engine.summary(document=args.doc, topic=args.topic, length=length)
        print(console.as_json(summary) if args.json else console.format_summary(summary))
    elif command == "relations":
        return _relations(engine, args)
    elif command == "sources":
        print(console.format_sources(engine))
    elif command == "chat":
        console.chat(engine)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run, turning expected failures into a one-line message."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_command(args)
    except (ConfigError, QuestionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
