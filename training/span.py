"""The auxiliary span objective: point at the answer's tokens, or at [CLS] when there is none."""

from __future__ import annotations

from typing import Any

from index.answering.verifier.model import pair_text
from training.data import Example

# CrossEntropyLoss skips these: an answer that truncation cut off teaches nothing about where.
IGNORED = -100


def answer_tokens(encoded: Any, row: int, example: Example) -> tuple[int, int]:
    """Return the first and last token of the example's answer, (0, 0) for none, or IGNORED."""
    if not example.answer:
        return 0, 0
    # pair_text starts with the sentence, so a character offset in it is one in the passage side.
    start = pair_text(example.item).find(example.answer)
    if start < 0:
        return IGNORED, IGNORED
    end = start + len(example.answer)
    offsets = encoded["offset_mapping"][row].tolist()
    passage = [i for i, part in enumerate(encoded.sequence_ids(row)) if part == 1]
    covering = [i for i in passage if offsets[i][1] > start and offsets[i][0] < end]
    if not covering:
        return IGNORED, IGNORED
    return covering[0], covering[-1]


def span_loss(logits: Any, attention_mask: Any, targets: Any) -> Any:
    """Mean cross-entropy of the start and end positions over each pair's real tokens."""
    import torch

    masked = logits.float().masked_fill(attention_mask.unsqueeze(-1) == 0, float("-inf"))
    loss = torch.nn.CrossEntropyLoss(ignore_index=IGNORED)
    # A batch whose every answer was cut off has nothing to learn here (and would give NaN).
    if bool((targets != IGNORED).any()):
        starts, ends = masked[..., 0], masked[..., 1]
        return (loss(starts, targets[:, 0]) + loss(ends, targets[:, 1])) / 2
    return logits.sum() * 0.0
