"""Fine-tune MiniLM into the answer verifier on CPU, calibrate its threshold and export it."""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.answering.verifier.model import CARD, FORMAT, WEIGHTS, Judged, pair_text, sigmoid
from index.corpus.checksums import file_sha256
from training.data import Example, Paragraph, SentencePool
from training.span import answer_tokens, span_loss


@dataclass
class TrainConfig:
    """Everything that decides the trained weights; part of the checkpoint's identity."""

    base: str
    init: str = ""
    epochs: float = 2.0
    batch_size: int = 16
    learning_rate: float = 7e-5
    max_length: int = 128
    seed: int = 13
    warmup: float = 0.06
    checkpoint_every: int = 100
    threads: int = 0
    bfloat16: bool = False
    # Weight of the auxiliary span loss (0: off). Pointing at the answer's tokens, or at [CLS]
    # for a sentence without one, asks the encoder for more than a yes/no per pair.
    span_weight: float = 0.0


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and torch so a run can be repeated."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def batches(
    examples: list[Example], size: int, rng: random.Random, tokenizer: Any
) -> list[list[int]]:
    """Shuffle, then group pairs of similar length so padding wastes little CPU."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    lengths = {i: len(examples[i].question) + len(pair_text(examples[i].item)) for i in order}
    grouped: list[list[int]] = []
    for lo in range(0, len(order), size * 50):
        chunk = sorted(order[lo : lo + size * 50], key=lengths.__getitem__)
        grouped.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    rng.shuffle(grouped)
    return grouped


def encode(
    tokenizer: Any, pairs: list[tuple[str, Judged]], max_length: int, *, offsets: bool = False
) -> Any:
    """Tokenise (question, sentence) pairs exactly as the engine does at answer time."""
    return tokenizer(
        [question for question, _ in pairs],
        [pair_text(item) for _, item in pairs],
        truncation="only_second",
        max_length=max_length,
        padding=True,
        return_offsets_mapping=offsets,
        return_tensors="pt",
    )


def train(
    config: TrainConfig, examples: list[Example], work: Path, *, progress: bool = True
) -> tuple[Any, Any, dict[str, float]]:
    """Train from the base model, resuming from a checkpoint in `work` when one matches."""
    import torch
    from tqdm import tqdm
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from index.answering.verifier import network as verifier_net

    set_seeds(config.seed)
    # On a busy machine one thread beats two: a descheduled OpenMP thread stalls every step.
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    tokenizer = AutoTokenizer.from_pretrained(config.base)
    # A second stage may continue from an exported verifier instead of the bare MiniLM.
    model = (
        verifier_net.load(Path(config.init), WEIGHTS)
        if config.init
        else verifier_net.from_base(config.base)
    )
    model.train()
    # The 30k-word embedding table is half the weights; freezing it halves the optimiser's work
    # on 2 cores and keeps the pretrained vocabulary intact on a small training set.
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    rng = random.Random(config.seed)
    epochs = math.ceil(config.epochs)
    plan = [batches(examples, config.batch_size, rng, tokenizer) for _ in range(epochs)]
    steps = [b for epoch in plan for b in epoch][: int(config.epochs * len(plan[0]))]
    # The span head only shapes training; the exported verifier keeps its one logit. Made only
    # when asked for, so a run without it draws the same random numbers as before it existed.
    span_head = torch.nn.Linear(model.encoder.config.hidden_size, 2) if config.span_weight else None
    trainable = [p for p in model.parameters() if p.requires_grad]
    if span_head is not None:
        trainable += list(span_head.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimiser, int(config.warmup * len(steps)), len(steps)
    )
    positives = sum(e.label for e in examples)
    # Negatives outnumber answers several to one; weigh answers up rather than drop negatives.
    weight = min(4.0, (len(examples) - positives) / max(1.0, positives))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(weight))
    identity = json.dumps([asdict(config), len(examples)], sort_keys=True)
    checkpoint = work / "checkpoint.pt"
    start = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["identity"] == identity:
            model.load_state_dict(state["model"])
            if span_head is not None:
                span_head.load_state_dict(state["span_head"])
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            start = state["step"]
            torch.set_rng_state(state["torch_rng"])
    model.train()
    began = time.perf_counter()
    losses: list[float] = []
    bar = tqdm(total=len(steps), initial=start, disable=not progress, desc="training")
    for step in range(start, len(steps)):
        batch = [examples[i] for i in steps[step]]
        pairs = [(e.question, e.item) for e in batch]
        encoded = encode(tokenizer, pairs, config.max_length, offsets=span_head is not None)
        labels = torch.tensor([e.label for e in batch], dtype=torch.float32)
        targets = None
        if span_head is not None:
            targets = torch.tensor([answer_tokens(encoded, i, e) for i, e in enumerate(batch)])
            del encoded["offset_mapping"]
        # Mixed precision: matrix products in bfloat16, weights and optimiser kept in float32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bfloat16):
            hidden = model.encoder(**encoded).last_hidden_state
            logits = model.pooled_logit(hidden, encoded["attention_mask"])
            spans = span_head(hidden) if span_head is not None else None
        loss = loss_fn(logits.float(), labels)
        if spans is not None:
            loss = loss + config.span_weight * span_loss(spans, encoded["attention_mask"], targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < len(steps):
            work.mkdir(parents=True, exist_ok=True)
            state = {
                "identity": identity,
                "model": model.state_dict(),
                "span_head": span_head.state_dict() if span_head is not None else None,
                "optimiser": optimiser.state_dict(),
                "schedule": schedule.state_dict(),
                "step": step + 1,
                "torch_rng": torch.get_rng_state(),
            }
            torch.save(state, checkpoint.with_suffix(".tmp"))
            os.replace(checkpoint.with_suffix(".tmp"), checkpoint)
    bar.close()
    model.eval()
    stats = {
        "steps": float(len(steps)),
        "seconds": round(time.perf_counter() - began, 1),
        "final_loss": round(float(np.mean(losses[-50:])), 4) if losses else float("nan"),
    }
    return model, tokenizer, stats


def predict(
    model: Any, tokenizer: Any, pairs: list[tuple[str, Judged]], max_length: int
) -> np.ndarray:
    """Return P(answer) for each pair."""
    import torch

    out = []
    with torch.inference_mode():
        for lo in range(0, len(pairs), 64):
            encoded = encode(tokenizer, pairs[lo : lo + 64], max_length)
            out.append(model(**encoded).float().numpy())
    return sigmoid(np.concatenate(out)) if out else np.zeros(0, dtype=np.float32)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Return the area under the ROC curve (the chance a positive outranks a negative)."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    if not len(positive) or not len(negative):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([positive, negative]))) + 1
    return float(
        (ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2)
        / (len(positive) * len(negative))
    )


def balanced_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Return the mean of the answer rate on answerable and the abstain rate on unanswerable."""
    answered = scores >= threshold
    return float((answered[labels == 1].mean() + (~answered[labels == 0]).mean()) / 2)


def calibrate(
    model: Any,
    tokenizer: Any,
    questions: list[dict[str, Any]],
    paragraphs: dict[str, Paragraph],
    max_length: int,
) -> dict[str, float]:
    """Pick the threshold that best separates answerable from unanswerable held-out questions."""
    pool = SentencePool(paragraphs)
    best_scores, labels = [], []
    for row in questions:
        # Like the engine: the question's own paragraph and what keyword retrieval brings.
        keys = {(row["pid"], i) for i in range(len(paragraphs[row["pid"]].sentences))}
        keys.update(pool.best(row["question"], 10))
        pairs = [(row["question"], paragraphs[pid].judged(i)) for pid, i in sorted(keys)]
        best_scores.append(float(predict(model, tokenizer, pairs, max_length).max()))
        labels.append(0 if row["is_impossible"] else 1)
    scores, truth = np.asarray(best_scores), np.asarray(labels)
    grid = np.linspace(0.05, 0.95, 91)
    accuracies = [balanced_accuracy(scores, truth, t) for t in grid]
    best = int(np.argmax(accuracies))
    return {
        "threshold": round(float(grid[best]), 3),
        "validation_balanced_accuracy": round(accuracies[best], 4),
        "validation_auroc": round(auroc(scores, truth), 4),
        "validation_questions": float(len(truth)),
    }


def export(
    model: Any, tokenizer: Any, out: Path, *, threshold: float, max_length: int
) -> dict[str, Any]:
    """Write fp16 safetensors, the tokenizer and verifier.json with the weights' sha256."""
    from index.answering.verifier import network as verifier_net

    out.mkdir(parents=True, exist_ok=True)
    verifier_net.save(model, out, WEIGHTS)
    tokenizer.save_pretrained(str(out))
    weights = out / WEIGHTS
    card = {
        "format": FORMAT,
        "sha256": file_sha256(weights),
        "threshold": threshold,
        "max_length": max_length,
        "bytes": weights.stat().st_size,
    }
    (out / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
