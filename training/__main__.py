"""Command line: python -m training [--epochs 2] [--out index/answering/verifier/weights] ..."""

from __future__ import annotations

import argparse
import collections
import json
import random
import shlex
import sys
import time
from pathlib import Path

from training.card import write_model_card
from training.data import (
    EntitySwapper,
    Paragraph,
    QuestionRewriter,
    build_examples,
    load_paragraphs,
    read_jsonl,
    split_titles,
)
from training.train import TrainConfig, calibrate, export, train

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str]) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--squad", type=Path, default=ROOT.parent / "shared/eval/squad")
    parser.add_argument("--base", default=None, help="base model folder (default: bundled MiniLM)")
    parser.add_argument("--out", type=Path, default=ROOT / "index/answering/verifier/weights")
    parser.add_argument(
        "--init", type=Path, default=None, help="continue from this trained verifier folder"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "build/verifier-work")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=7e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--holdout-titles", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=0, help="train on a random sample")
    parser.add_argument("--limit-questions", type=int, default=0, help="a tiny run, for tests")
    parser.add_argument("--no-entity-swaps", action="store_true")
    parser.add_argument(
        "--no-rewrites",
        action="store_true",
        help="leave out predicate swaps, not-the-speaker and absent-role pairs",
    )
    parser.add_argument(
        "--entity-rate",
        type=float,
        default=0.35,
        help="share of sentences that get speaker / not-the-speaker / absent-role questions",
    )
    parser.add_argument(
        "--v1-articles",
        action="store_true",
        help="add questions_dev.jsonl's answerable questions of articles v2_train lacks",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: every core)")
    parser.add_argument(
        "--bfloat16",
        action="store_true",
        help="mixed precision: much faster where the CPU has AMX or AVX512-BF16, slow elsewhere",
    )
    parser.add_argument(
        "--span-weight",
        type=float,
        default=0.0,
        help="weight of the auxiliary loss that points at the answer's tokens (0: off)",
    )
    parser.add_argument(
        "--question-share",
        type=float,
        default=1.0,
        help="train on this share of the training questions (a learning curve)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.span_weight < 0:
        parser.error("--span-weight must be 0 (off) or more.")
    if not 0.0 < args.question_share <= 1.0:
        parser.error("--question-share must be more than 0 and at most 1.")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the pairs, train, calibrate on held-out articles, export with a model card."""
    args = parse(sys.argv[1:] if argv is None else argv)
    began = time.perf_counter()
    # A continued run keeps the record of the run it started from, for the model card.
    previous = None
    if args.init is not None:
        record = args.init / "training.json"
        previous = json.loads(record.read_text(encoding="utf-8")) if record.exists() else None
    if args.base is None:
        from index.retrieval.encoder import resolve_model
        from index.settings import PACKAGED_MODEL

        args.base = resolve_model(PACKAGED_MODEL)
    # abstain_dev, seed_dev and seed_near_miss stay out: they are the checks, not the lessons.
    questions = read_jsonl(args.squad / "v2_train.jsonl")
    paragraphs = load_paragraphs(args.squad / "passages_v2.jsonl")
    train_titles, held_titles = split_titles((q["title"] for q in questions), args.holdout_titles)
    training = [q for q in questions if q["title"] in train_titles]
    held = [q for q in questions if q["title"] in held_titles]
    if args.limit_questions:
        rng = random.Random(args.seed)
        training = rng.sample(training, min(args.limit_questions, len(training)))
        held = rng.sample(held, min(max(4, args.limit_questions // 4), len(held)))
    if args.question_share < 1.0:
        share = random.Random(args.seed)
        training = share.sample(training, round(args.question_share * len(training)))
    extra_paragraphs: dict[str, Paragraph] = {}
    if args.v1_articles:
        # questions_dev.jsonl (SQuAD v1.1, answerable only) also covers articles v2_train lacks;
        # its questions of v2_train's articles repeat v2's and stay out.
        v2_titles = {q["title"] for q in questions}
        extra = [
            dict(q, is_impossible=False)
            for q in read_jsonl(args.squad / "questions_dev.jsonl")
            if q["title"] not in v2_titles and not q.get("is_impossible")
        ]
        titles = {q["title"] for q in extra}
        v1 = load_paragraphs(args.squad / "passages.jsonl")
        extra_paragraphs = {pid: p for pid, p in v1.items() if pid.rsplit("__", 1)[0] in titles}
        if args.limit_questions:
            extra = random.Random(args.seed).sample(extra, min(args.limit_questions, len(extra)))
        training += extra
    asked = [q["question"] for q in training]
    swapper = None if args.no_entity_swaps else EntitySwapper(asked)
    rewriter = None if args.no_rewrites else QuestionRewriter(asked)
    # Held-out calibration keeps to passages_v2 alone, comparable from run to run.
    examples = build_examples(
        training,
        paragraphs | extra_paragraphs,
        seed=args.seed,
        swapper=swapper,
        rewriter=rewriter,
        entity_rate=args.entity_rate,
    )
    if args.max_pairs and len(examples) > args.max_pairs:
        examples = random.Random(args.seed).sample(examples, args.max_pairs)
    kinds = collections.Counter(e.kind for e in examples)
    print(f"{len(examples)} pairs from {len(training)} questions: {dict(kinds)}", file=sys.stderr)
    config = TrainConfig(
        base=args.base,
        init=str(args.init) if args.init else "",
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        seed=args.seed,
        threads=args.threads,
        bfloat16=args.bfloat16,
        span_weight=args.span_weight,
    )
    model, tokenizer, stats = train(config, examples, args.work, progress=not args.no_progress)
    metrics = calibrate(model, tokenizer, held, paragraphs, args.max_length)
    card = export(
        model, tokenizer, args.out, threshold=metrics["threshold"], max_length=args.max_length
    )
    (args.work / "checkpoint.pt").unlink(missing_ok=True)
    report = {
        "command": "python -m training " + shlex.join(sys.argv[1:] if argv is None else argv),
        "config": {k: v for k, v in vars(config).items() if k not in ("base", "init")},
        "continued_from": previous,
        "pairs": dict(kinds),
        "training_questions": len(training),
        "training_titles": sorted({q["title"] for q in training}),
        "validation_titles": held_titles,
        "training": stats,
        "validation": metrics,
        "total_seconds": round(time.perf_counter() - began, 1),
        "weights": card,
    }
    (args.out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_model_card(args.out, report)
    print(json.dumps(report["validation"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
