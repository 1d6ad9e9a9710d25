"""Check a verifier folder on the dev files through the engine, without the full benchmark.

usage: python -m bench.verifier_check [--verifier FOLDER] [--threshold T] [--json OUT]

Reports abstain_dev balanced accuracy and AUROC, seed_near_miss abstentions and seed_dev
answers, as `python -m bench.run` counts them, and the same abstention with retrieval taken
out (the verifier's best score over every sentence of the question's own paragraph). These
files are checks only: nothing here trains or tunes on them (a threshold passed with
--threshold should come from held-out v2_train articles, see `python -m training`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.run import auroc, balanced_accuracy, best_threshold
from bench.squad_corpus import SHARED_EVAL, read_jsonl, seed_case_passes, write_corpus
from index import Engine, EngineSettings
from index.answering.judging import judged_sentence
from index.answering.verifier.model import BUNDLED_VERIFIER, Judged, Verifier
from index.results import Answer
from index.retrieval.encoder import SentenceEncoder
from index.settings import PRECISIONS
from index.storage.base import IndexedDocument

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "vcheck"


def best_probability(answer: Answer) -> float:
    """The verifier's highest probability among the passages the engine judged."""
    scores = [q.verifier for q in (*answer.quotes, *answer.more, *answer.closest)]
    return max((s for s in scores if s is not None), default=0.0)


def document_sentences(item: IndexedDocument) -> list[Judged]:
    """Return every sentence of a document as the verifier reads it, with its neighbours."""
    return [judged_sentence(item, index) for index in range(len(item.sentences))]


def abstain_dev(engine: Engine, pids: dict[str, str]) -> dict[str, float]:
    """Balanced accuracy at the card's threshold, AUROC and the best of any threshold."""
    cases = read_jsonl(SHARED_EVAL / "squad" / "abstain_dev.jsonl")
    by_pid = {pids[item.document.doc_id]: item for item in engine.searcher.backend.documents}
    verifier = engine.verifier
    assert verifier is not None
    abstained, score, gold, should = [], [], [], []
    for case in cases:
        answer = engine.ask(case["question"])
        abstained.append(not answer.answered)
        score.append(best_probability(answer))
        # With retrieval taken out: the best sentence of the question's own paragraph.
        gold.append(
            float(verifier.score(case["question"], document_sentences(by_pid[case["pid"]])).max())
        )
        should.append(bool(case["should_abstain"]))
    y, pred, s = np.asarray(should), np.asarray(abstained), np.asarray(score)
    g = np.asarray(gold)
    return {
        "abstain_dev_bacc": balanced_accuracy(pred, y),
        "abstain_dev_abstain_rate_unanswerable": float(pred[y].mean()),
        "abstain_dev_answer_rate_answerable": float((~pred[~y]).mean()),
        "abstain_dev_auroc": auroc(s, ~y),
        "abstain_dev_best_bacc": best_threshold(s, y),
        "gold_paragraph_auroc": auroc(g, ~y),
        "gold_paragraph_bacc": balanced_accuracy(g < verifier.threshold, y),
    }


def seeds(engine: Engine) -> dict[str, Any]:
    """seed_dev (answered with the expected words) and seed_near_miss (abstained)."""
    out: dict[str, Any] = {}
    for name in ("seed_dev", "seed_near_miss"):
        passed, failed = 0, []
        for case in read_jsonl(SHARED_EVAL / f"{name}.jsonl"):
            ok, answer = seed_case_passes(engine, case)
            passed += ok
            if not ok:
                failed.append(f"{case['id']} {best_probability(answer):.2f}")
        out[name] = passed
        out[f"{name}_failed"] = failed
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verifier", type=Path, default=BUNDLED_VERIFIER)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--skip-squad", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    verifier = Verifier(args.verifier, args.precision)
    if args.threshold is not None:
        verifier.card = dataclasses.replace(verifier.card, threshold=args.threshold)
    encoder = SentenceEncoder()
    report: dict[str, Any] = {
        "verifier": str(args.verifier),
        "precision": verifier.precision,
        "threshold": verifier.threshold,
    }
    article = Engine.open(
        EngineSettings(corpus_dir=ROOT / "corpus", index_dir=WORK / "article"),
        encoder=encoder,
        verifier=verifier,
    )
    report.update(seeds(article))
    if not args.skip_squad:
        corpus = WORK / "squad2" / "corpus"
        pids = write_corpus(read_jsonl(SHARED_EVAL / "squad" / "passages_v2.jsonl"), corpus)
        squad = Engine.open(
            EngineSettings(corpus_dir=corpus, index_dir=WORK / "squad2" / "index"),
            encoder=encoder,
            verifier=verifier,
        )
        report.update(abstain_dev(squad, pids))
    report["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
