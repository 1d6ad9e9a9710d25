"""Find the verifier threshold at which automatic answers are right at least 90 % of the time.

usage: python -m bench.autoanswer_point [--sample N] [--target 0.9] [--write docs/benchmarks.md]

An auto-answer channel replies only when the verifier is confident, so the threshold is chosen
where the answers given are right often enough. Each question of `abstain_dev.jsonl` (asked
over the 1204 SQuAD v2 passages, as `bench.verifier_check` does) and of the seed files (asked
over the default article) is asked once through the engine; its reply would be the candidate
passage the verifier rates highest, with that probability `p`. A reply is **right** when the
question has an answer and the quote holds it (a SQuAD gold answer, case aside; the seed's
expected words); any reply to a question that should be abstained on is wrong. At threshold
`t` the channel answers the questions with `p >= t`: precision is the share of those replies
that are right, and the share answered is their share of all the questions. The operating
point is the lowest `t` from which precision stays at or above the target for every higher
threshold (so a slightly stricter setting never does worse), counting only thresholds with at
least `--min-replies` replies (20).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from bench.report import write_report
from bench.squad_corpus import SHARED_EVAL, read_jsonl, write_corpus
from index import Engine, EngineSettings
from index.results import Answer, Quote
from index.retrieval.encoder import SentenceEncoder

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".cache" / "autoanswer"
MARKER = "<!-- bench.autoanswer_point -->"


def best_candidate(answer: Answer) -> Quote | None:
    """Return the judged passage the verifier rates highest (an answer's or a near one)."""
    judged = [q for q in (*answer.quotes, *answer.more, *answer.closest) if q.verifier is not None]
    return max(judged, key=lambda q: q.verifier or 0.0, default=None)


def replied(best: Quote | None) -> dict[str, Any]:
    """Return what a case file keeps of the reply: the quote and its answering sentence."""
    if best is None:
        return {"quote": "", "sentence": ""}
    sentence = best.text[best.highlight.start - best.start : best.highlight.end - best.start]
    return {"quote": best.text, "sentence": sentence}


def judged_case(engine: Engine, question: str, expected: list[str] | None) -> dict[str, Any]:
    """Ask one question; return its best probability and whether that reply would be right."""
    answer = engine.ask(question)
    best = best_candidate(answer)
    probability = float(best.verifier or 0.0) if best is not None else 0.0
    right = False
    if best is not None and expected:
        text = best.text.casefold()
        right = any(e.casefold() in text for e in expected)
    verdict = {"question": question, "p": probability, "right": right}
    return {**verdict, "answerable": bool(expected), **replied(best)}


def squad_cases(engine: Engine, sample: int) -> list[dict[str, Any]]:
    """Judge abstain_dev's questions (all, or a seeded sample)."""
    cases = read_jsonl(SHARED_EVAL / "squad" / "abstain_dev.jsonl")
    if sample and sample < len(cases):
        cases = random.Random(5).sample(cases, sample)
    judged = []
    for case in cases:
        expected = None if case["should_abstain"] else [a for a in case["answers"] if a]
        judged.append({**judged_case(engine, case["question"], expected), "set": "abstain_dev"})
    return judged


def seed_cases(engine: Engine) -> list[dict[str, Any]]:
    """Judge seed_dev (expected words) and seed_near_miss (should abstain)."""
    judged = []
    for name in ("seed_dev", "seed_near_miss"):
        for case in read_jsonl(SHARED_EVAL / f"{name}.jsonl"):
            expected = None if case.get("abstain") else list(case["expect"])
            if expected:
                # A seed is right only with all its expected words, as bench.run counts it.
                answer = engine.ask(case["question"])
                best = best_candidate(answer)
                probability = float(best.verifier or 0.0) if best is not None else 0.0
                right = best is not None and all(e in best.text for e in expected)
                row = {"question": case["question"], "p": probability, "right": right}
                judged.append({**row, "answerable": True, "set": name, **replied(best)})
            else:
                judged.append({**judged_case(engine, case["question"], None), "set": name})
    return judged


def curve(cases: list[dict[str, Any]], thresholds: list[float]) -> list[dict[str, float]]:
    """Return precision and the share answered at each threshold."""
    rows = []
    for t in thresholds:
        answered = [c for c in cases if c["p"] >= t]
        right = sum(c["right"] for c in answered)
        rows.append(
            {
                "threshold": t,
                "answered": len(answered),
                "share": len(answered) / len(cases),
                "precision": right / len(answered) if answered else 1.0,
                "recall": right / max(1, sum(c["answerable"] for c in cases)),
            }
        )
    return rows


def operating_point(
    rows: list[dict[str, float]], target: float, min_replies: int
) -> dict[str, float] | None:
    """Return the lowest threshold from which precision stays at or above the target.

    Thresholds with fewer than `min_replies` replies are not counted either way: one right
    reply at 0.97 is no evidence of 100 % precision.
    """
    point = None
    for row in reversed(rows):  # from the strictest down
        if row["answered"] < min_replies:
            continue
        if row["precision"] < target:
            break
        point = row
    return point


def wrong_replies(cases: list[dict[str, Any]], threshold: float) -> str:
    """Say, at one threshold, what the wrong replies were and how often answerable ones held."""
    answered = [c for c in cases if c["p"] >= threshold]
    wrong = [c for c in answered if not c["right"]]
    unanswerable = sum(not c["answerable"] for c in wrong)
    held = [c for c in answered if c["answerable"]]
    right = sum(c["right"] for c in held)
    return (
        f"At {threshold:.2f}: {len(wrong)} of {len(answered)} replies were wrong, "
        f"{unanswerable} of them to questions that should have been abstained on; to the "
        f"answerable questions, the quote held the answer {right} times in {len(held)} "
        f"({right / max(1, len(held)):.0%})."
    )


def markdown(
    point: dict[str, float] | None,
    rows: list[dict[str, float]],
    cases: list[dict[str, Any]],
    base: float,
    target: float,
    seconds: float,
    shown: float,
) -> list[str]:
    """Format the operating point and a few rows of the curve."""
    sets: dict[str, int] = {}
    for case in cases:
        sets[case["set"]] = sets.get(case["set"], 0) + 1
    described = ", ".join(f"{n} {name}" for name, n in sets.items())
    lines = [
        f"Auto-answer operating point (`python -m bench.autoanswer_point`, {len(cases)} "
        f"questions: {described}; {seconds / 60:.0f} min on 2 shared cores):",
        "",
    ]
    if point is None:
        lines.append(f"No threshold with enough replies reaches {target:.0%} precision.")
        lines += ["", wrong_replies(cases, shown)]
    else:
        lines.append(
            f"**threshold {point['threshold']:.2f}**: precision **{point['precision']:.1%}** "
            f"({point['answered']:.0f} replies), share of questions answered "
            f"**{point['share']:.1%}**, recall of the answerable {point['recall']:.1%} "
            f"(`/ask`'s own threshold is {base:.2f})."
        )
    lines += ["", "| threshold | precision | share answered | replies |"]
    lines.append("| --- | --- | --- | --- |")
    for row in rows:
        if round(row["threshold"] * 100) % 5 == 0 or row is point:
            lines.append(
                f"| {row['threshold']:.2f} | {row['precision']:.1%} | {row['share']:.1%} "
                f"| {row['answered']:.0f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Ask every question, sweep the threshold and print (or write) the operating point."""
    parser = argparse.ArgumentParser(prog="python -m bench.autoanswer_point", description=__doc__)
    parser.add_argument("--sample", type=int, default=0, help="abstain_dev questions (0: all)")
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--min-replies", type=int, default=20, help="fewest replies a point needs")
    parser.add_argument("--write", type=Path, help="put the result into this Markdown file")
    parser.add_argument("--cases", type=Path, help="also save every question's p and verdict")
    parser.add_argument(
        "--shown", type=float, default=0.9, help="threshold whose wrong replies are described"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    encoder = SentenceEncoder()
    article = Engine.open(
        EngineSettings(corpus_dir=ROOT / "corpus", index_dir=WORK / "article"), encoder=encoder
    )
    assert article.verifier is not None, "the operating point is the verifier's"
    cases = seed_cases(article)
    corpus = WORK / "squad2" / "corpus"
    write_corpus(read_jsonl(SHARED_EVAL / "squad" / "passages_v2.jsonl"), corpus)
    squad = Engine.open(
        EngineSettings(corpus_dir=corpus, index_dir=WORK / "squad2" / "index"),
        encoder=encoder,
        verifier=article.verifier,
    )
    cases += squad_cases(squad, args.sample)
    thresholds = [round(0.01 * i, 2) for i in range(1, 100)]
    rows = curve(cases, thresholds)
    point = operating_point(rows, args.target, args.min_replies)
    if args.cases:
        args.cases.write_text(json.dumps(cases, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = markdown(
        point,
        rows,
        cases,
        article.verifier.threshold,
        args.target,
        time.perf_counter() - started,
        args.shown,
    )
    print("\n".join(lines))
    if args.write:
        write_report(args.write, MARKER, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
