"""The command line: `python -m bot run | worker | index | ask | docs | gaps | sources | ...`."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from bot.logs import LogSettings, setup_logging
from bot.relations_text import format_relations, relations_json
from index import (
    MAX_SUMMARY_SENTENCES,
    SUMMARY_LENGTHS,
    ConfigError,
    DatabaseUnavailable,
    Engine,
    EngineSettings,
    IndexProblem,
    IndexWriteError,
    LockError,
    ModelLoadError,
    QuestionError,
    VerifierError,
    clean_question,
    copy_to_database,
    load_settings,
    migrate_store,
)

# What a process killed by SIGPIPE returns: `... | head -1` is a normal way to stop reading.
BROKEN_PIPE = 141
# Discord ids (snowflakes) are unsigned 64-bit integers; 0 is never issued.
SNOWFLAKE_LIMIT = 2**64
# Commands whose start an operator watches: the model hub's progress bars belong there only.
WATCHED = (None, "run", "worker", "index", "sync")


def server_id(text: str) -> int:
    """Read --guild as a Discord server id: a whole number from 1 to 2^64 - 1."""
    value = int(text) if re.fullmatch(r"[0-9]{1,20}", text) else 0
    if not 0 < value < SNOWFLAKE_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a server id (a Discord server id is a whole number "
            "from 1 to 18446744073709551615)"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    """Build the parser for every command and its options."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Verbatim answers questions about documents by quoting them verbatim.",
    )
    commands = parser.add_subparsers(dest="command")
    # Operators can work on one server's documents (VERBATIM_DATA_DIR/guilds/<id>).
    guild = argparse.ArgumentParser(add_help=False)
    guild.add_argument(
        "--guild", type=server_id, metavar="ID", help="a server's documents, by its id"
    )
    commands.add_parser("run", help="connect to Discord (or open the console without a token)")
    _add_sync(commands)
    commands.add_parser(
        "worker", help="run /docs indexing jobs from the database, and nothing else"
    )
    index = commands.add_parser(
        "index", parents=[guild], help="bring the index up to date with the corpus folder"
    )
    index.add_argument(
        "--prune", action="store_true", help="let an empty corpus empty the index too"
    )
    ask = commands.add_parser("ask", parents=[guild], help="answer one question with quotes")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.add_argument(
        "--closest",
        action="store_true",
        help="when the documents don't answer, also show the closest passages (may not answer)",
    )
    summary = commands.add_parser(
        "summary", parents=[guild], help="summarise a document, optionally on a topic"
    )
    summary.add_argument("--topic", "-t")
    summary.add_argument("--doc", "-d", help="document id or title (default: all)")
    summary.add_argument("--length", "-n", default="5", help="sentences, or short/medium/long")
    summary.add_argument("--json", action="store_true", help="print JSON")
    relations = commands.add_parser(
        "relations", parents=[guild], help="who spoke, met or talked with whom"
    )
    relations.add_argument("--person", "-p", help="only this person's links")
    relations.add_argument("--doc", "-d", help="only this document (id or title)")
    relations.add_argument("--png", metavar="FILE", help="also draw the graph into FILE")
    relations.add_argument("--json", action="store_true", help="print networkx node-link JSON")
    commands.add_parser("sources", parents=[guild], help="list the indexed documents")
    _docs_parser(commands)
    gaps = commands.add_parser(
        "gaps", help="a server's questions its documents could not answer, grouped by meaning"
    )
    gaps.add_argument(
        "--guild", type=server_id, metavar="ID", required=True, help="the server, by its id"
    )
    gaps.add_argument("--days", type=_days, metavar="N", help="only the last N days")
    gaps.add_argument("--json", action="store_true", help="print JSON (with every question)")
    commands.add_parser("chat", help="ask questions interactively")
    commands.add_parser("health", help="exit 0 if the running bot reported in recently")
    commands.add_parser("migrate", help="create or upgrade the database's tables (Postgres store)")
    commands.add_parser(
        "migrate-store", help="copy the local index and the servers' into the database, as they are"
    )
    return parser


def _add_sync(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `sync`: the command tree sent to Discord by a step of its own, for sharded bots."""
    commands.add_parser(
        "sync", help="send the slash commands to Discord, then exit (sharded bots run it once)"
    )


def _docs_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `docs add | list | remove`, a server's own documents, as /docs changes them."""
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--guild", type=server_id, metavar="ID", required=True, help="the server, by its id"
    )
    docs = commands.add_parser("docs", help="add, list or remove a server's own documents")
    actions = docs.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[server], help="add a file to the server")
    add.add_argument("file", type=Path, metavar="FILE", help="a .txt, .md, .html or .pdf file")
    add.add_argument("--title", help="the title to cite (default: the document's own)")
    listed = actions.add_parser("list", parents=[server], help="list the server's documents")
    listed.add_argument("--json", action="store_true", help="print JSON")
    remove = actions.add_parser("remove", parents=[server], help="remove one of its documents")
    remove.add_argument("document", help="the document's id, as `docs list` shows it")


def _days(text: str) -> int:
    """Read --days as a whole number of days from 1 to 3650."""
    value = int(text) if re.fullmatch(r"[0-9]{1,4}", text) else 0
    if not 1 <= value <= 3650:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 3650")
    return value


def _length(value: str) -> int | str:
    """Read --length as a number only when it is ASCII digits ("²" and "①" are not)."""
    return int(value) if re.fullmatch(r"[0-9]{1,4}", value) else value


def _print(text: str) -> None:
    """Print a result at once, so a reader on a pipe sees it before a slow next step."""
    print(text, flush=True)


class NoDocuments(Exception):
    """A server sees no documents: none of its own, and the shared ones are hidden from it."""


def _guild_engine(engine: Engine, guild: int, *, indexing: bool) -> Engine:
    """Return the engine that answers in a server, creating no folder for a server without one."""
    from bot.settings import DocsSettings
    from index import Library

    docs = load_settings(DocsSettings)
    root = docs.guilds_root(engine.settings.data_dir)
    library = Library(engine, root, shared_visible=docs.shared_corpus_visible)
    if indexing and library.has_shelf(guild):
        return library.open(guild)  # `index` (re)builds a server's own index, even an empty one
    found = None if indexing else library.engine_if_any(guild)
    if found is None:
        hidden = "" if docs.shared_corpus_visible else "; the shared corpus is hidden from servers"
        raise NoDocuments(
            f"server {guild} has no documents of its own ({library.location(guild)} "
            f"holds none){hidden}"
        )
    return found


def _copy_to_database(settings: EngineSettings) -> int:
    """Copy every local index into the database, saying what each copy did; 1 if none could."""
    from bot.settings import DocsSettings

    root = load_settings(DocsSettings).guilds_root(settings.data_dir)
    copied = copy_to_database(settings, root)
    for item in copied:
        shelf = (
            f"; {item.uploads} uploaded file(s) and {item.audit} audit record(s) copied"
            if item.uploads or item.audit
            else ""
        )
        if item.report is None:
            _print(f"{item.tenant}: no readable index in {item.folder}; nothing copied{shelf}")
            continue
        _print(
            f"{item.tenant}: copied {len(item.copied)} document(s) from {item.folder} with "
            f"their vectors; {len(item.report.reused)} already there, "
            f"{len(item.report.removed)} removed{shelf}"
        )
    return 0 if any(item.report is not None for item in copied) else 1


def _relations(engine: Engine, args: argparse.Namespace) -> int:
    """Print who spoke with whom, and draw it when asked; 1 when there is nothing to show."""
    relations = engine.relations(person=args.person, document=args.doc)
    print(relations_json(relations) if args.json else format_relations(relations))
    if args.png and relations.answered:
        from index import draw

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
    if command == "sync":
        from bot.syncing import sync

        return sync()
    if command == "worker":
        from bot.worker import run_worker

        return run_worker()
    if command == "docs":
        from bot.docs_cli import run_docs

        return run_docs(args)
    settings = load_settings(EngineSettings)
    if command == "migrate":
        _print(migrate_store(settings))
        return 0
    if command == "migrate-store":
        return _copy_to_database(settings)
    # Check what the user typed before anything slow (the model, the index) is loaded.
    if command == "ask":
        clean_question(args.question, max_chars=settings.max_question_chars)
    if command == "summary":
        length = _length(str(args.length))
        if isinstance(length, str) and length.lower() not in SUMMARY_LENGTHS:
            raise QuestionError(
                f"Length must be 1-{MAX_SUMMARY_SENTENCES} sentences or short, medium or long."
            )
    indexing = command == "index"
    engine = Engine.open(
        settings,
        show_progress=indexing,
        prune=indexing and args.prune,
        must_save=indexing,  # `index` exists to save: a failure is its result, in one line
        # `index` reads the corpus folder into the store, a shared database's too; the other
        # commands serve what a shared store holds (None: the store decides).
        sync=True if indexing else None,
    )
    if command == "gaps":
        from bot.gaps_text import gaps_command

        _print(gaps_command(engine, args))
        return 0
    guild = getattr(args, "guild", None)
    if guild is not None:
        engine = _guild_engine(engine, guild, indexing=indexing)
    if command == "index":
        return _report_index(engine)
    if command == "ask" and (routed := engine.relations_for_question(args.question)):
        # The relations graph answers who spoke with whom best: every link, each with its quote.
        _print(relations_json(routed, args.question) if args.json else format_relations(routed))
    elif command == "ask":
        answer = engine.ask(args.question)
        tty = sys.stdout.isatty()
        _print(
            console.as_json(answer, closest=args.closest)
            if args.json
            else console.format_answer(answer, bold=tty, closest=args.closest)
        )
    elif command == "summary":
        summary = engine.summary(document=args.doc, topic=args.topic, length=length)
        _print(console.as_json(summary) if args.json else console.format_summary(summary))
    elif command == "relations":
        return _relations(engine, args)
    elif command == "sources":
        _print(console.format_sources(engine))
    elif command == "chat":
        console.chat(engine)
    return 0


def _report_index(engine: Engine) -> int:
    """Print what `index` did; a save that failed is a one-line error and exit status 1."""
    report = engine.last_sync
    engine.graph  # noqa: B018  # wait for who-spoke-with-whom, so `index` leaves it cached
    for problem in engine.problems:
        print(f"Skipped {problem.path}: {problem.reason}", file=sys.stderr)
    _print(
        f"Indexed {len(engine.sources())} document(s), "
        f"{engine.searcher.size} sentence windows: "
        f"embedded {len(report.embedded)}, reused {len(report.reused)}, "
        f"removed {len(report.removed)} in {report.seconds:.1f}s."
    )
    if report.rebuilt_because:
        _print(f"Built from scratch: {report.rebuilt_because}.")
    if report.kept_because:
        print(f"warning: {report.kept_because}.", file=sys.stderr)
    return 0


def _quiet_model_loading(command: str | None) -> None:
    """Hide the model hub's progress bars ("Loading weights") unless a start is watched."""
    if command not in WATCHED or not sys.stderr.isatty():
        # Read when huggingface_hub and transformers are first imported, as the model loads.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def check_env_file(path: Path = Path(".env")) -> None:
    """Warn once for each .env line that cannot be parsed, by file and line, and say its effect."""
    from dotenv.parser import parse_stream

    # python-dotenv would warn on every settings class that reads the file, without its name.
    logging.getLogger("dotenv.main").setLevel(logging.ERROR)
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            broken = [binding.original for binding in parse_stream(stream) if binding.error]
    except OSError:
        return  # no .env (or unreadable): pydantic-settings reads nothing from it either
    for line in broken:
        # The name only: the rest of a broken line may be a secret such as the token.
        name = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)", line.string)
        setting = f"{name.group(1)} is not set from it" if name else "it is ignored"
        print(
            f"warning: {path.resolve()} line {line.line} cannot be parsed, so {setting}; "
            "write NAME=value",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run, turning expected failures into a one-line message."""
    args = _parser().parse_args(argv)
    _quiet_model_loading(args.command)
    check_env_file()
    try:
        level = load_settings(LogSettings).log_level
        verbose = args.command in WATCHED
        setup_logging(level or (logging.INFO if verbose else logging.WARNING))
        return run_command(args)
    except (ConfigError, QuestionError, ModelLoadError, VerifierError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except IndexWriteError as error:
        print(f"error: the index was not saved: {error}", file=sys.stderr)
        return 1
    except (LockError, IndexProblem, NoDocuments, DatabaseUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`| head -1`); point stdout at /dev/null so exit doesn't complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
