"""Measure the engine's own cost as the corpus grows: index, re-open, ask, memory.

usage: python -m bench.scale [--copies 1 5 20 80] [--questions 300] [--per-passage]
                             [--write docs/benchmarks.md]

The corpus is N copies of the 2067 SQuAD v1.1 dev passages, one document per article and
copy (48 x N files; each copy's title carries its number, so no two copies embed alike), or
with --per-passage one document per passage and copy (2067 x N small files: 20 copies are
41,340 documents, what opening many files costs).
Vectors come from the tests' hashing encoder at 384 dimensions (MiniLM's size), so the
figures are the engine's cost alone: the real model adds about 10-20 ms a question and
embeds 60-110 windows a second. Each phase runs in a fresh process, so each peak RSS is
that phase's own. About 1 copy = 12k windows; 80 copies = 1M windows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import write_report
from bench.squad_corpus import SHARED_EVAL, answerable_questions, read_jsonl

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".cache" / "scale"
DIMENSION = 384
MARKER = "<!-- bench.scale -->"
DATABASE_VARIABLE = "BENCH_SCALE_DATABASE_URL"


def write_copies(copies: int, folder: Path) -> int:
    """Write `copies` copies of the SQuAD dev articles (one file per article and copy)."""
    articles: dict[str, list[str]] = defaultdict(list)
    for passage in read_jsonl(SHARED_EVAL / "squad" / "passages.jsonl"):
        articles[passage["title"]].append(passage["text"])
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for copy in range(copies):
        for title, texts in articles.items():
            stem = f"{title.lower().replace('_', '-')}-{copy}"
            path = folder / f"{stem}.txt"
            if not path.exists():
                path.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
                meta = {"title": f"{title.replace('_', ' ')} {copy}"}
                (folder / f"{stem}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
            written += 1
    return written


def write_passages(copies: int, folder: Path) -> int:
    """Write `copies` copies of the SQuAD dev passages, one file (and title sidecar) each."""
    passages = read_jsonl(SHARED_EVAL / "squad" / "passages.jsonl")
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for copy in range(copies):
        for passage in passages:
            stem = f"{passage['pid'].lower().replace('_', '-')}-{copy}"
            path = folder / f"{stem}.txt"
            if not path.exists():
                path.write_text(passage["text"] + "\n", encoding="utf-8")
                meta = {"title": f"{passage['title'].replace('_', ' ')} {copy}"}
                (folder / f"{stem}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
            written += 1
    return written


def _peak_rss_mib() -> float:
    # VmHWM is this process's own peak, unlike ru_maxrss after a fork from a large parent.
    with open("/proc/self/status", encoding="utf-8") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def _open_engine(folder: Path, *, progress: bool = False) -> Any:
    from index import Engine, EngineSettings
    from tests.support.hashing_encoder import HashingEncoder

    # With --store postgres the run names a database of its own for each size.
    url = os.environ.get(DATABASE_VARIABLE) or None
    settings = EngineSettings(
        corpus_dir=folder / "corpus", index_dir=folder / "index", verifier="off", database_url=url
    )
    encoder = HashingEncoder(DIMENSION, model_id="bench-hashing-384")
    # Indexing fills the store from the folder; serving opens what is stored, as a shard does.
    sync = True if progress else None
    return Engine.open(settings, encoder=encoder, show_progress=progress, sync=sync), encoder


def phase_index(folder: Path) -> dict[str, Any]:
    """Build the index from nothing; report time, rate and peak RSS."""
    shutil.rmtree(folder / "index", ignore_errors=True)
    started = time.perf_counter()
    engine, encoder = _open_engine(folder, progress=True)
    ready = time.perf_counter() - started
    engine.graph  # noqa: B018  # who spoke with whom is extracted in the background; wait for it
    seconds = time.perf_counter() - started
    return {
        "windows": engine.searcher.size,
        "ready_seconds": ready,
        "index_seconds": seconds,
        "embedded": encoder.embedded,
        "dense": engine.searcher.backend.describe()["dense"],
        "index_rss_mib": _peak_rss_mib(),
    }


def phase_scan(folder: Path) -> dict[str, Any]:
    """Read and parse the whole corpus folder, as a sync does before it compares."""
    from index.corpus.documents import load_corpus

    # A process of its own: the serving process never reads the folder, and the texts it
    # holds would otherwise count in the serving process's time and peak memory.
    scanned = time.perf_counter()
    load_corpus(folder / "corpus")
    return {"corpus_scan_seconds": time.perf_counter() - scanned}


def phase_serve(folder: Path, questions: int) -> dict[str, Any]:
    """Re-open the built index, then time questions with their vectors already made."""
    cases = [q["question"] for q in answerable_questions()]
    cases = random.Random(7).sample(cases, questions)
    started = time.perf_counter()
    engine, encoder = _open_engine(folder)
    reopen = time.perf_counter() - started
    assert encoder.embedded == 0, "the index was not reused"
    engine.ask(cases[0])
    first_answer = time.perf_counter() - started
    for case in cases:  # the query vectors are cached: what follows is the engine alone
        engine.searcher.embed_query(case)
    timings = []
    for case in cases:
        asked = time.perf_counter()
        engine.ask(case)
        timings.append((time.perf_counter() - asked) * 1000)
    return {
        "reopen_seconds": reopen,
        "first_answer_seconds": first_answer,
        "ask_p50_ms": float(np.percentile(timings, 50)),
        "ask_p95_ms": float(np.percentile(timings, 95)),
        "serve_rss_mib": _peak_rss_mib(),
    }


def run_phase(name: str, folder: Path, questions: int) -> dict[str, Any]:
    """Run one phase in a fresh Python process and return what it measured."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERBATIM_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "bench.scale", "--phase", name, "--folder", str(folder)]
    command += ["--questions", str(questions)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Format the results as a Markdown table."""
    lines = [
        "| copies | documents | windows | dense index | ask p50 / p95 (engine only) | re-open "
        "| first answer | full corpus read | index time (answering after) | peak RSS serving "
        "| peak RSS indexing |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['copies']} | {row['documents']:,} | {row['windows']:,} | {row['dense']} "
            f"| {row['ask_p50_ms']:.1f} / {row['ask_p95_ms']:.1f} ms "
            f"| {row['reopen_seconds']:.2f} s | {row['first_answer_seconds']:.2f} s "
            f"| {row['corpus_scan_seconds']:.2f} s "
            f"| {row['index_seconds']:.0f} s ({row['ready_seconds']:.0f} s) "
            f"| {row['serve_rss_mib']:.0f} MiB "
            f"| {row['index_rss_mib']:.0f} MiB |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure each size in turn and print (or write) the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 5, 20, 80])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument(
        "--per-passage", action="store_true", help="one document per passage, not per article"
    )
    parser.add_argument(
        "--store",
        choices=["local", "postgres"],
        default="local",
        help="postgres: VERBATIM_DATABASE_URL's server, else an embedded one (the dev extra)",
    )
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    parser.add_argument("--keep", action="store_true", help="keep the corpora and indexes")
    parser.add_argument("--phase", choices=["index", "serve", "scan"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        phases = {
            "index": lambda: phase_index(args.folder),
            "serve": lambda: phase_serve(args.folder, args.questions),
            "scan": lambda: phase_scan(args.folder),
        }
        print(json.dumps(phases[args.phase]()))
        return 0
    if args.store == "postgres":
        from bench.store_compare import benchmark_server

        with benchmark_server() as server:
            return _measure(args, server)
    return _measure(args, None)


def _measure(args: argparse.Namespace, server: str | None) -> int:
    """Build and serve each size (in a fresh database of the server's, if one is given)."""
    began = time.perf_counter()
    rows = []
    for copies in args.copies:
        if server is not None:
            from tests.support.postgres import fresh_database

            os.environ[DATABASE_VARIABLE] = fresh_database(server)
        kind = "passages" if args.per_passage else "copies"
        folder = args.work / f"{kind}-{copies}"
        documents = (write_passages if args.per_passage else write_copies)(
            copies, folder / "corpus"
        )
        row = {"copies": copies, "documents": documents}
        row.update(run_phase("index", folder, args.questions))
        row.update(run_phase("serve", folder, args.questions))
        row.update(run_phase("scan", folder, args.questions))
        rows.append(row)
        print("\n".join(table([row])[2:]), flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    minutes = (time.perf_counter() - began) / 60
    lines = [
        f"Scale (`python -m bench.scale --copies {' '.join(map(str, args.copies))}"
        f"{' --per-passage' if args.per_passage else ''}"
        f"{' --store postgres' if server else ''}`, "
        f"{args.questions} SQuAD questions a size, hashing encoder at {DIMENSION} dims, "
        f"{os.cpu_count()} cores; the whole run took {minutes:.0f} min):",
        "",
        *table(rows),
    ]
    print("\n".join(lines))
    if args.write:
        write_report(args.write, MARKER, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
