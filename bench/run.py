"""Measure retrieval quality, abstention, latency, build rate, start-up and memory.

usage: python -m bench.run [--write docs/benchmarks.md] [--questions N]
Everything goes through the engine's public API, as the bot and the CLI use it.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.squad_corpus import (
    SHARED_EVAL,
    answerable_questions,
    read_jsonl,
    seed_case_passes,
    verifier_training_titles,
    write_corpus,
)
from bench.store_compare import compare_stores
from index import Engine, EngineSettings
from index.answering.verifier.model import Verifier
from index.retrieval.encoder import SentenceEncoder
from index.text.windows import DEFAULT_PARAMS, unit_texts

CACHE = Path(__file__).resolve().parent / ".cache"
ROOT = Path(__file__).resolve().parent.parent
# name -> (retrieval mode, verifier reranking, top-k depth; "all" scores every row, as the
# search did before it fused top-k lists, to check in the same run that fusing loses nothing)
MODES = {
    "BM25 only": ("keyword", False, None),
    "dense only": ("dense", False, None),
    "hybrid, no verifier": ("hybrid", False, None),
    "hybrid, no verifier, every row scored": ("hybrid", False, "all"),
    "engine (hybrid + verifier rerank)": ("hybrid", True, None),
    "engine, every row scored": ("hybrid", True, "all"),
}
WHO_SPOKE = ("Shoigu", "Gerasimov", "Stoltenberg", "Milley", "Radakin", "Austin", "Wallace")


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def build(corpus: Path, index: Path, encoder: SentenceEncoder) -> tuple[Engine, float]:
    started = time.perf_counter()
    engine = Engine.open(
        EngineSettings(corpus_dir=corpus, index_dir=index), encoder=encoder, show_progress=True
    )
    return engine, time.perf_counter() - started


def raw_encode_rate(engine: Engine, encoder: SentenceEncoder, sample: int) -> float:
    """Texts per second for model.encode alone, on a sample of the very texts the index embeds."""
    texts = [
        t
        for item in engine.searcher.backend.documents
        for t in unit_texts(item.document, item.windows, DEFAULT_PARAMS)
    ]
    chosen = random.Random(0).sample(texts, min(sample, len(texts)))
    started = time.perf_counter()
    encoder.encode(chosen)
    return len(chosen) / (time.perf_counter() - started)


def retrieval(
    engine: Engine, ids: dict[str, str], questions: list[dict[str, Any]], unseen: set[str]
) -> dict[str, dict[str, float]]:
    """R@1, R@5 and MRR@10 of each mode, on all questions and on articles training never saw."""
    results: dict[str, dict[str, float]] = {}
    ranks: dict[str, list[int | None]] = {}
    for question in questions:
        for name, (mode, rerank, depth) in MODES.items():
            rows = engine.searcher.size if depth == "all" else None
            passages = engine.search(
                question["question"], k=10, mode=mode, rerank=rerank, depth=rows
            )
            ranked = [ids[p.document] for p in passages]
            rank = ranked.index(question["pid"]) if question["pid"] in ranked else None
            ranks.setdefault(name, []).append(rank)
            if question["title"] in unseen:
                ranks.setdefault(f"{name}, unseen articles", []).append(rank)
    for name, found in ranks.items():
        results[name] = {
            "R@1": sum(r == 0 for r in found) / len(found),
            "R@5": sum(r is not None and r < 5 for r in found) / len(found),
            "MRR@10": sum(1 / (r + 1) for r in found if r is not None) / len(found),
        }
    return results


def latency(engine: Engine, questions: list[dict[str, Any]]) -> list[float]:
    engine.searcher.clear_cache()
    timings = []
    for question in questions:
        started = time.perf_counter()
        engine.ask(question["question"])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def startup(corpus: Path, index: Path) -> tuple[float, float]:
    """Seconds from a fresh process to a ready engine on a built index, and its peak RSS."""
    code = (
        "import time; t=time.perf_counter();"
        "from index import Engine, EngineSettings;"
        f"e=Engine.open(EngineSettings(corpus_dir={str(corpus)!r}, index_dir={str(index)!r}));"
        "e.ask('warm up question');"
        "assert not e.last_sync.embedded, e.last_sync;"
        # VmHWM, not ru_maxrss: after fork+exec, ru_maxrss still counts the parent's copy.
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(time.perf_counter()-t, int(hwm)/1024)"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    wall = time.perf_counter() - started
    return wall, float(out[1])


def abstention(encoder: SentenceEncoder) -> dict[str, float]:
    passages = read_jsonl(SHARED_EVAL / "squad" / "passages_v2.jsonl")
    write_corpus(passages, CACHE / "squad2" / "corpus")
    engine, _ = build(CACHE / "squad2" / "corpus", CACHE / "squad2" / "index", encoder)
    cases = read_jsonl(SHARED_EVAL / "squad" / "abstain_dev.jsonl")
    abstained, relevance, cosine, should = [], [], [], []
    for case in cases:
        answer = engine.ask(case["question"])
        top = engine.search(case["question"], k=1)  # verifier's probability of the best passage
        hits = engine.searcher.search(case["question"])
        abstained.append(not answer.answered)
        relevance.append(top[0].relevance if top else 0.0)
        cosine.append(float(hits.dense.max()))
        should.append(bool(case["should_abstain"]))
    y = np.asarray(should)
    pred = np.asarray(abstained)
    return {
        "balanced accuracy": balanced_accuracy(pred, y),
        "abstained when it should": pred[y].mean(),
        "answered when it should": (~pred[~y]).mean(),
        "AUROC, engine relevance (verifier probability)": auroc(np.asarray(relevance), ~y),
        "AUROC, top-1 cosine alone": auroc(np.asarray(cosine), ~y),
        "best balanced accuracy of any relevance threshold": best_threshold(
            np.asarray(relevance), y
        ),
    }


def balanced_accuracy(abstained: np.ndarray, should: np.ndarray) -> float:
    """Mean of the abstention rate on unanswerable and the answer rate on answerable questions."""
    return float(0.5 * (abstained[should].mean() + (~abstained[~should]).mean()))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    p, n = scores[positive], scores[~positive]
    return float((p[:, None] > n[None, :]).mean() + 0.5 * (p[:, None] == n[None, :]).mean())


def best_threshold(scores: np.ndarray, abstain: np.ndarray) -> float:
    best = 0.0
    for threshold in np.unique(scores):
        best = max(best, balanced_accuracy(scores < threshold, abstain))
    return best


def seed_checks(encoder: SentenceEncoder) -> list[str]:
    """Run seed_dev, seed_near_miss and "who spoke with whom" on the default article."""
    engine = Engine.open(
        EngineSettings(corpus_dir=ROOT / "corpus", index_dir=CACHE / "article"), encoder=encoder
    )
    lines = []
    for name in ("seed_dev.jsonl", "seed_near_miss.jsonl"):
        cases = read_jsonl(SHARED_EVAL / name)
        passed, failed = 0, []
        for case in cases:
            ok, _ = seed_case_passes(engine, case)
            passed += ok
            if not ok:
                failed.append(case["id"])
        missed = f" (failed: {', '.join(failed)})" if failed else ""
        lines.append(
            f"{name}: {passed}/{len(cases)} pass (quoted as expected, or abstained){missed}"
        )
    answer = engine.ask("Who spoke with whom?")
    text = " ".join(q.text for q in answer.quotes)
    found = [name for name in WHO_SPOKE if name in text]
    lines.append(f'"Who spoke with whom?" quotes {len(found)}/{len(WHO_SPOKE)}: {", ".join(found)}')
    return lines


def verifier_facts() -> list[str]:
    """Report the shipped verifier's size and training time, from its training record."""
    folder = ROOT / "index" / "answering" / "verifier" / "weights"
    record = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    weights = folder / "model.safetensors"
    stages, steps, seconds, earlier = 0, 0.0, 0.0, record
    while earlier:  # a continued run records the run it started from
        stages, steps = stages + 1, steps + earlier["training"]["steps"]
        seconds += earlier["training"]["seconds"]
        earlier = earlier.get("continued_from")
    return [
        f"verifier weights: {weights.stat().st_size / 1e6:.1f} MB fp16 safetensors "
        f"(sha256 {record['weights']['sha256'][:12]}…)",
        f"verifier training: {seconds / 60:.1f} min for {steps:.0f} steps in {stages} stage(s) "
        "on 2 CPU cores, one torch thread "
        f"({sum(record['pairs'].values())} pairs; "
        f"whole script {record['total_seconds'] / 60:.1f} min)",
        f"verifier held-out validation: AUROC {record['validation']['validation_auroc']}, "
        f"balanced accuracy {record['validation']['validation_balanced_accuracy']} at threshold "
        f"{record['weights']['threshold']}",
    ]


def discord_ack() -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/e2e/test_discord_e2e.py",
            "-k",
            "fifty",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = result.stdout.splitlines()
    line = next((text for text in lines if text.startswith("50 concurrent")), None)
    return line or f"load test failed:\n{result.stdout[-2000:]}"


def squad_retrieval_set(
    parser: argparse.ArgumentParser, sample: int
) -> tuple[list[dict[str, Any]], dict[str, str], Path, Path]:
    """Read the question sample and write SQuAD v1.1's passages as the benchmark corpus."""
    try:
        questions = answerable_questions(sample)
    except ValueError as error:
        parser.error(str(error))  # exits with the usage line
    corpus, index = CACHE / "squad" / "corpus", CACHE / "squad" / "index"
    ids = write_corpus(read_jsonl(SHARED_EVAL / "squad" / "passages.jsonl"), corpus)
    return questions, ids, corpus, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="write the report (markdown) to this file")
    parser.add_argument("--questions", type=int, default=0, help="limit questions (0: all)")
    parser.add_argument("--encode-sample", type=int, default=3000)
    parser.add_argument(
        "--store",
        choices=["local", "postgres"],
        default="local",
        help="postgres: compare the Postgres store with the local files (recall, latency, build)",
    )
    args = parser.parse_args()

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    encoder = SentenceEncoder()
    questions, ids, corpus, index = squad_retrieval_set(parser, args.questions)
    if args.store == "postgres":
        compare_stores(corpus, index, ids, questions, say)
        if args.write:
            replace_results(args.write, "\n".join(lines), marker="postgres")
        return
    if index.exists():
        shutil.rmtree(index)  # time a build from nothing
    engine, seconds = build(corpus, index, encoder)
    units = engine.searcher.size
    build_rate = units / seconds
    # Who-spoke-with-whom extraction carries on in the background after a build: wait for it,
    # so the raw encode rate is measured on idle cores, as the build's embedding was.
    engine.graph  # noqa: B018
    raw_rate = raw_encode_rate(engine, encoder, args.encode_sample)

    say(
        f"Machine: {platform.machine()}, {platform.python_version()}, "
        f"{len(ids)} SQuAD v1.1 dev passages -> {units} sentence windows; "
        f"{len(questions)} answerable questions_dev."
    )
    say()
    trained_on = verifier_training_titles()
    unseen = {q["title"] for q in questions} - trained_on
    say(
        f"Articles the verifier never saw in training: {len(unseen)} "
        f"({sum(q['title'] in unseen for q in questions)} questions)."
    )
    say()
    say("| method | R@1 | R@5 | MRR@10 |")
    say("| --- | --- | --- | --- |")
    for name, scores in retrieval(engine, ids, questions, unseen).items():
        say(f"| {name} | {scores['R@1']:.3f} | {scores['R@5']:.3f} | {scores['MRR@10']:.3f} |")
    say()
    timings = latency(engine, questions[:1000])
    assert engine.verifier is not None, "the benchmark measures the engine with its verifier"
    shipped = engine.verifier
    say(
        f"- ask latency over {len(timings)} questions on {units} chunks, verifier in "
        f"{shipped.precision}: p50 {percentile(timings, 50):.1f} ms, "
        f"p95 {percentile(timings, 95):.1f} ms"
    )
    if shipped.precision != "float32":
        # What a CPU without bfloat16 hardware gets (VERBATIM_VERIFIER_PRECISION=float32).
        engine.verifier = Verifier(shipped.folder, "float32")
        exact = latency(engine, questions[:300])
        engine.verifier = shipped
        say(
            f"- the same in float32 (CPUs without bfloat16 hardware), {len(exact)} questions: "
            f"p50 {percentile(exact, 50):.1f} ms, p95 {percentile(exact, 95):.1f} ms"
        )
    say(
        f"- index build: {units} windows in {seconds:.1f} s = {build_rate:.1f}/s; raw model.encode "
        f"{raw_rate:.1f}/s on {args.encode_sample} of the same texts "
        f"-> {100 * build_rate / raw_rate:.0f}%"
    )
    wall, child_rss = startup(corpus, index)
    say(
        f"- start-up with a built index (fresh process, imports + load + first answer): "
        f"{wall:.1f} s, peak RSS {child_rss:.0f} MiB"
    )
    say(
        f"- peak RSS of this benchmark process (model, build of {units} windows, search): "
        f"{peak_rss_mib():.0f} MiB"
    )
    for line in seed_checks(encoder) + verifier_facts():
        say(f"- {line}")
    say()
    say(
        "Abstention on abstain_dev.jsonl (500 SQuAD v2.0 questions, half unanswerable, against "
        "passages_v2.jsonl):"
    )
    say()
    for name, value in abstention(encoder).items():
        say(f"- {name}: {value:.3f}")
    say()
    say(f"- Discord: {discord_ack()}")
    if args.write:
        replace_results(args.write, "\n".join(lines))


def replace_results(path: Path, results: str, *, marker: str = "results") -> None:
    """Put the results between the markers in a markdown file, keeping the prose around them."""
    begin, end = f"<!-- {marker}: begin -->", f"<!-- {marker}: end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    stamp = time.strftime("%Y-%m-%d")
    command = "python -m bench.run" + ("" if marker == "results" else " --store postgres")
    path.write_text(
        f"{head}{begin}\n_Measured {stamp} by `{command}`._\n\n{results}\n{end}{tail}",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
