"""Compare two ways of embedding in one run: build rate and SQuAD retrieval.

usage: python -m bench.precision [--compare precision|units] [--questions 300] [--passages 0]
                                 [--no-verifier]

Indexes the 2067 SQuAD v1.1 dev passages twice, once per precision (VERBATIM_EMBEDDING_PRECISION),
each into an index of its own, and ranks the same seeded sample of answerable questions with
each: dense alone, the hybrid and the engine (hybrid + verifier). bfloat16 must stay within
0.005 of float32 on R@1 and R@5, and is only worth having where it builds faster. On a busy
machine, --passages N indexes a seeded sample of N passages and asks only their questions,
and --no-verifier leaves the engine's row out (precision changes only the embedding).
--compare units sets windows against sentences embedded once (VERBATIM_EMBEDDING_UNITS), both
in bfloat16.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path
from typing import Any

from bench.run import CACHE, MODES, retrieval
from bench.squad_corpus import SHARED_EVAL, answerable_questions, read_jsonl, write_corpus
from index import Engine, EngineSettings
from index.retrieval.encoder import SentenceEncoder

COMPARED = ["dense only", "hybrid, no verifier", "engine (hybrid + verifier rerank)"]


# The two ways each comparison sets side by side: (precision, units).
WAYS = {
    "precision": [("float32", "windows"), ("bfloat16", "windows")],
    "units": [("bfloat16", "windows"), ("bfloat16", "sentences")],
}


def measure(
    way: tuple[str, str], corpus: Path, ids: dict[str, str], questions: list[dict[str, Any]]
) -> dict[str, Any]:
    """Build an index one way from nothing and rank the questions with it."""
    precision, units = way
    index = CACHE / "precision" / f"{precision}-{units}"
    shutil.rmtree(index, ignore_errors=True)
    encoder = SentenceEncoder(precision=precision, units=units)
    started = time.perf_counter()
    verifier = "bundled" if "engine (hybrid + verifier rerank)" in COMPARED else "off"
    settings = EngineSettings(corpus_dir=corpus, index_dir=index, verifier=verifier)
    engine = Engine.open(settings, encoder=encoder)
    seconds = time.perf_counter() - started
    engine.graph  # noqa: B018  # relations are read in the background: let them finish first
    saved = dict(MODES)
    MODES.clear()
    MODES.update({name: saved[name] for name in COMPARED})
    try:
        figures = retrieval(engine, ids, questions, set())
    finally:
        MODES.clear()
        MODES.update(saved)
    return {"windows": engine.searcher.size, "seconds": seconds, "figures": figures}


def main() -> None:
    """Measure both precisions and print the comparison as Markdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.precision", description=__doc__)
    parser.add_argument("--compare", choices=sorted(WAYS), default="precision")
    parser.add_argument("--questions", type=int, default=300, help="seeded sample (0: all)")
    parser.add_argument("--passages", type=int, default=0, help="seeded sample (0: all 2067)")
    parser.add_argument("--no-verifier", action="store_true", help="leave the engine row out")
    args = parser.parse_args()
    if args.no_verifier:
        COMPARED.remove("engine (hybrid + verifier rerank)")
    passages = read_jsonl(SHARED_EVAL / "squad" / "passages.jsonl")
    questions = answerable_questions()
    corpus = CACHE / "squad" / "corpus"
    if args.passages:
        passages = random.Random(3).sample(passages, args.passages)
        kept = {p["pid"] for p in passages}
        questions = [q for q in questions if q["pid"] in kept]
        corpus = CACHE / "precision" / f"corpus-{args.passages}"
    if args.questions and args.questions < len(questions):
        questions = random.Random(1).sample(questions, args.questions)
    ids = write_corpus(passages, corpus)
    results = {" ".join(way): measure(way, corpus, ids, questions) for way in WAYS[args.compare]}
    first, second = results.values()
    windows = first["windows"]
    print(
        f"{len(questions)} answerable SQuAD questions, {len(passages)} passages, {windows} windows"
    )
    print(
        "| precision and units | build (windows/s) | "
        + " | ".join(f"{m} R@1 / R@5" for m in COMPARED)
        + " |"
    )
    print("| --- | --- | " + " | ".join("---" for _ in COMPARED) + " |")
    for way, result in results.items():
        rate = result["windows"] / result["seconds"]
        cells = [
            f"{result['figures'][m]['R@1']:.3f} / {result['figures'][m]['R@5']:.3f}"
            for m in COMPARED
        ]
        print(f"| {way} | {rate:.1f} ({result['seconds']:.0f} s) | " + " | ".join(cells) + " |")
    worst = max(
        abs(first["figures"][m][k] - second["figures"][m][k])
        for m in COMPARED
        for k in ("R@1", "R@5")
    )
    print(f"largest difference: {worst:.4f} ({'within' if worst <= 0.005 else 'beyond'} 0.005)")


if __name__ == "__main__":
    main()
