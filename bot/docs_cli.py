"""`python -m bot docs add | list | remove --guild ID`: a server's documents, from the shell."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from bot.settings import DocsSettings
from bot.worker import library_for
from index import (
    Engine,
    EngineSettings,
    IngestError,
    Library,
    LibraryEntry,
    load_settings,
    prepare,
)

# 1: the library refused the change (or could not store it); 2: the input cannot be used.
REFUSED = 1
BAD_INPUT = 2


def _operator() -> str:
    """Name who ran the command, for the list and the audit log."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):  # no user name in a bare container
        return "command line"


def _fail(text: str, status: int) -> int:
    print(f"error: {text}", file=sys.stderr)
    return status


def run_docs(args: argparse.Namespace) -> int:
    """Carry out `docs add`, `docs list` or `docs remove`; return the exit status."""
    docs = load_settings(DocsSettings)
    guild: int = args.guild
    if args.action == "add":
        # Read and check the file before anything slow (the model, the index) is loaded.
        data = args.file.read_bytes()
        limit = int(docs.max_file_mb * 1024 * 1024)
        if len(data) > limit:
            return _fail(
                f"{args.file} is {len(data) / 1048576:.1f} MB; the limit is "
                f"{docs.max_file_mb:g} MB (VERBATIM_MAX_FILE_MB). Nothing was changed.",
                BAD_INPUT,
            )
        try:
            prepared = prepare(data, filename=args.file.name, title=args.title)
        except IngestError as error:
            return _fail(f"cannot add {args.file}: {error}. Nothing was changed.", BAD_INPUT)
    library = library_for(Engine.open(load_settings(EngineSettings)), docs)
    try:
        if args.action == "add":
            added = library.add(guild, prepared, added_by=_operator())
            print(
                f"Added “{added.entry.title}” ({added.entry.doc_id}) to server {guild}: "
                f"{added.paragraphs} paragraphs, {added.sentences} sentences."
            )
        elif args.action == "remove":
            entry = library.remove(guild, args.document, removed_by=_operator())
            print(f"Removed “{entry.title}” ({entry.doc_id}) from server {guild}.")
        else:
            _list(library, guild, as_json=args.json)
    except IngestError as error:  # the library's refusals: a duplicate, the limit, no such id
        return _fail(f"{error}. Nothing was changed.", REFUSED)
    return 0


def _list(library: Library, guild: int, *, as_json: bool) -> None:
    """Print the server's own documents, oldest first."""
    entries = library.entries(guild)
    engine = library.engine_if_any(guild) if entries else None
    paragraphs = {s.document: s.paragraphs for s in engine.sources()} if engine else {}
    if as_json:
        print(json.dumps([_as_json(e, paragraphs.get(e.doc_id)) for e in entries], indent=2))
        return
    if not entries:
        print(f"Server {guild} has no documents of its own.")
        return
    for entry in entries:
        count = paragraphs.get(entry.doc_id)
        size = f", {count} paragraphs" if count is not None else ""
        print(
            f"{entry.doc_id}: “{entry.title}”{size}, added by {entry.added_by} "
            f"at {entry.added_at or '?'}"
        )


def _as_json(entry: LibraryEntry, paragraphs: int | None) -> dict[str, object]:
    return {
        "document": entry.doc_id,
        "title": entry.title,
        "filename": entry.filename,
        "paragraphs": paragraphs,
        "added_by": entry.added_by,
        "added_at": entry.added_at,
        "sha256": entry.sha256,
        "source_url": entry.source_url,
    }
