"""`python -m bot gaps`: a server's unanswered questions, grouped by meaning, as text or JSON."""

from __future__ import annotations

import argparse
import json

from index import Engine, GapReport, Library, load_settings, open_gap_logs, report_for


def format_gaps(report: GapReport, guild: int) -> str:
    """Render each group with its count, examples and nearest document, biggest first."""
    period = f"in the last {report.days} day(s)" if report.days else "kept"
    if not report.groups:
        return f"Server {guild}: no unanswered questions {period}."
    lines = [
        f"Server {guild}: {report.total} unanswered question(s) {period}, "
        f"in {len(report.groups)} group(s)"
    ]
    for group in report.groups:
        lines.append(f"{group.count:>5}× {group.examples[0]}")
        lines.extend(f"       - {example}" for example in group.examples[1:])
        if group.document:
            named = f"{group.title} ({group.document})" if group.title else group.document
            lines.append(f"       nearest document: {named}")
    return "\n".join(lines)


def gaps_command(engine: Engine, args: argparse.Namespace) -> str:
    """Report a server's gap log, as the bot's /docs gaps show does, in text or JSON."""
    from bot.settings import DocsSettings

    docs = load_settings(DocsSettings)
    root = docs.guilds_root(engine.settings.data_dir)
    library = Library(engine, root, shared_visible=docs.shared_corpus_visible)
    logs = open_gap_logs(
        engine.settings, library.folder, enabled=docs.gaps, keep_days=docs.gaps_days
    )
    # A server without documents of its own is answered from the shared ones: its titles name them.
    server = library.engine_if_any(args.guild) or engine
    report = report_for(logs.for_guild(args.guild), server, days=args.days)
    if args.json:
        return json.dumps(report.as_json(), ensure_ascii=False, indent=2)
    return format_gaps(report, args.guild)
