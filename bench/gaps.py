"""Time /docs gaps show on a server's gap log of 10,000 unanswered questions.

usage: python -m bench.gaps [--questions 10000] [--encoder real|hashing] [--write FILE.md]

The log is written as the bot writes it (one JSON line a question, spread over the last 90
days, each with three closest passages) from SQuAD's dev and train questions: all 8,587
distinct ones, then repeats to make up the number (a repeated question is embedded once, so
distinct questions are the cost; real logs repeat far more). The report is then built as the
bot builds it (`report_for`: read and expire the log, embed each distinct question with the
engine's encoder, cluster with scipy, name the nearest documents) and its CSV written; each
phase is timed, and the peak memory measured.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import write_report
from bench.squad_corpus import SHARED_EVAL, read_jsonl
from index import ABSTAINED, Engine, EngineSettings, Gap
from index.gaps import report as report_module
from index.gaps.log import JsonlGapLog
from index.retrieval.encoder import Encoder, SentenceEncoder

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".cache" / "gaps"
MARKER = "<!-- bench.gaps -->"


def questions(count: int) -> list[str]:
    """Return `count` SQuAD questions (dev and train): every distinct one once, then repeats."""
    seen: dict[str, None] = {}
    for name in ("questions_dev.jsonl", "v2_train.jsonl", "abstain_dev.jsonl"):
        for case in read_jsonl(SHARED_EVAL / "squad" / name):
            seen.setdefault(case["question"].strip(), None)
    found = list(seen)
    rng = random.Random(7)
    rng.shuffle(found)
    chosen = found[:count]
    # SQuAD holds fewer distinct questions than a busy log: the rest are asked again.
    chosen += [rng.choice(found) for _ in range(count - len(chosen))]
    rng.shuffle(chosen)
    return chosen


def write_log(path: Path, texts: list[str], documents: list[str]) -> None:
    """Write the questions as gaps over the last 90 days, oldest first."""
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(3)
    ages = sorted((rng.uniform(0, 89) for _ in texts), reverse=True)
    log = JsonlGapLog(path)
    for text, age in zip(texts, ages, strict=True):
        passages = tuple(f"{rng.choice(documents)}#{rng.randint(1, 9)}" for _ in range(3))
        log.record(Gap(text, now - timedelta(days=age), ABSTAINED, passages))


class TimedEncoder:
    """Count the time spent embedding, around any encoder."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def units(self) -> str:
        return self.inner.units

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Any:
        started = time.perf_counter()
        vectors = self.inner.encode(texts)
        self.seconds += time.perf_counter() - started
        return vectors


def measure(count: int, encoder_name: str) -> dict[str, Any]:
    """Build the log, then time the report phase by phase."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    if encoder_name == "real":
        encoder: Encoder = SentenceEncoder()
        encoder.encode(["warm the model up"])  # loading is the bot's start, not the report
    else:
        from tests.support.hashing_encoder import HashingEncoder

        encoder = HashingEncoder(dimension=384)
    timed = TimedEncoder(encoder)
    engine = Engine.open(
        EngineSettings(corpus_dir=ROOT / "corpus", index_dir=WORK / "index"),
        encoder=timed,
        verifier=None,
    )
    documents = [source.document for source in engine.sources()]
    path = WORK / "gaps.jsonl"
    texts = questions(count)
    write_log(path, texts, documents)
    log = JsonlGapLog(path)
    timed.seconds = 0.0
    clustered = 0.0
    linkage = report_module._labels

    def timed_labels(vectors: Any) -> list[int]:
        nonlocal clustered
        started = time.perf_counter()
        labels = linkage(vectors)
        clustered += time.perf_counter() - started
        return labels

    report_module._labels = timed_labels
    try:
        started = time.perf_counter()
        report = report_module.report_for(log, engine)
        built = time.perf_counter() - started
        embedded, clustering = timed.seconds, clustered
        started = time.perf_counter()
        csv_bytes = len(report.csv().encode("utf-8"))
        csv_seconds = time.perf_counter() - started
        # The next report embeds only the questions logged since: here, none.
        started = time.perf_counter()
        report_module.report_for(log, engine)
        again = time.perf_counter() - started
    finally:
        report_module._labels = linkage
    return {
        "questions": count,
        "distinct": len(set(texts)),
        "encoder": encoder.model_id,
        "total_seconds": built + csv_seconds,
        "embed_seconds": embedded,
        "cluster_seconds": clustering,
        "rest_seconds": built - embedded - clustering,
        "csv_seconds": csv_seconds,
        "again_seconds": again,
        "groups": len(report.groups),
        "largest_group": report.groups[0].count if report.groups else 0,
        "log_mib": path.stat().st_size / 1048576,
        "csv_kib": csv_bytes / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def markdown(row: dict[str, Any]) -> list[str]:
    """Format one measurement as a table."""
    return [
        f"`/docs gaps show` on {row['questions']:,} logged questions, {row['distinct']:,} distinct "
        f"(`python -m bench.gaps`, encoder `{row['encoder']}`, 2 cores shared with other work):",
        "",
        "| first report | embedding | clustering (scipy) | reading, expiry, groups | CSV "
        "| next report | groups | largest | log file | CSV file | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {row['total_seconds']:.1f} s | {row['embed_seconds']:.1f} s "
        f"| {row['cluster_seconds']:.1f} s | {row['rest_seconds']:.2f} s "
        f"| {row['csv_seconds']:.2f} s | {row['again_seconds']:.1f} s "
        f"| {row['groups']:,} | {row['largest_group']} "
        f"| {row['log_mib']:.1f} MiB | {row['csv_kib']:.0f} KiB | {row['peak_rss_mib']:.0f} MiB |",
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure and print (or write) the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.gaps", description=__doc__)
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--encoder", choices=["real", "hashing"], default="real")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args(argv)
    row = measure(args.questions, args.encoder)
    lines = markdown(row)
    print("\n".join(lines))
    if args.write:
        write_report(args.write, MARKER, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
