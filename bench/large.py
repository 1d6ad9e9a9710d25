"""Index one large text file (30 MB by default) and report wall time, windows/s and peak RSS.

usage: python -m bench.large [--megabytes 30] [--precision auto] [--units windows]
                             [--skip-relations]

The file is the 2067 SQuAD v1.1 dev passages repeated until it holds that many megabytes, each
paragraph of each repetition marked "[N] " so that none is a repeat (the engine quotes a
repeated paragraph once). It is indexed from nothing through the engine with the real model,
with progress lines on, in this process; then, unless --skip-relations, who spoke with whom
is read from it. Targets (issue 23) for 30 MB on the 2-core machine: at most 30 minutes of
wall time and 3 GiB of peak RSS.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from bench.squad_corpus import SHARED_EVAL, read_jsonl
from index import Engine, EngineSettings, ProgressUpdate
from index.retrieval.encoder import SentenceEncoder
from index.text.progress import reporting_to

WORK = Path(__file__).resolve().parent / ".cache" / "large"
MIB = 1024 * 1024


def write_large_file(path: Path, megabytes: float) -> int:
    """Write the repeated passages up to `megabytes` MiB; return the bytes written."""
    passages = [p["text"] for p in read_jsonl(SHARED_EVAL / "squad" / "passages.jsonl")]
    wanted = int(megabytes * MIB)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = copy = 0
    with path.open("w", encoding="utf-8") as stream:
        while written < wanted:
            copy += 1
            for text in passages:
                paragraph = f"[{copy}] {text}\n\n"
                stream.write(paragraph)
                written += len(paragraph.encode("utf-8"))
                if written >= wanted:
                    break
    return written


def peak_rss_mib() -> float:
    """Return this process's peak resident memory (VmHWM) in MiB."""
    with open("/proc/self/status", encoding="utf-8") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def measure(
    megabytes: float, precision: str, units: str, relations: bool, work: Path
) -> dict[str, Any]:
    """Index the file from nothing and return what it took."""
    corpus, index = work / "corpus", work / "index"
    shutil.rmtree(work, ignore_errors=True)
    size = write_large_file(corpus / "large.txt", megabytes)
    phases: dict[str, dict[str, float]] = {}

    def heard(update: ProgressUpdate) -> None:
        if update.finished:
            phases[update.phase] = {"seconds": update.elapsed, "rate": update.rate}

    encoder = SentenceEncoder(precision=precision, units=units)
    settings = EngineSettings(corpus_dir=corpus, index_dir=index, verifier="off")
    started = time.perf_counter()
    with reporting_to(heard):
        engine = Engine.open(settings, encoder=encoder, show_progress=True)
    ready = time.perf_counter() - started
    windows = engine.searcher.size
    result: dict[str, Any] = {
        "megabytes": size / MIB,
        "precision": encoder.precision,
        "units": units,
        "windows": windows,
        "ready_seconds": ready,
        "windows_per_second": windows / ready,
        "embedding_per_second": phases.get("Embedding", {}).get("rate", 0.0),
        "phases": phases,
        "peak_rss_mib": peak_rss_mib(),
    }
    if relations:
        engine.graph  # noqa: B018  # read in the background since the index was ready
        result["relations_seconds"] = time.perf_counter() - started - ready
        result["peak_rss_mib"] = peak_rss_mib()
    return result


def main() -> None:
    """Measure once and print the figures, as JSON and as one Markdown line."""
    parser = argparse.ArgumentParser(prog="python -m bench.large", description=__doc__)
    parser.add_argument("--megabytes", type=float, default=30.0)
    parser.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto")
    parser.add_argument(
        "--units", choices=["windows", "sentences"], default="windows", help="what is embedded"
    )
    parser.add_argument("--skip-relations", action="store_true", help="do not wait for them")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = measure(args.megabytes, args.precision, args.units, not args.skip_relations, args.work)
    print(json.dumps(result, indent=2))
    minutes, gib = result["ready_seconds"] / 60, result["peak_rss_mib"] / 1024
    units = result["units"]
    print(
        f"| {result['megabytes']:.1f} MiB | {result['precision']}, {units} "
        f"| {result['windows']:,} "
        f"| {minutes:.1f} min | {result['windows_per_second']:.1f} "
        f"({result['embedding_per_second']:.1f} embedding) | {gib:.2f} GiB |"
        f" {'met' if minutes <= 30 and gib <= 3 else 'missed'} |"
    )


if __name__ == "__main__":
    main()
