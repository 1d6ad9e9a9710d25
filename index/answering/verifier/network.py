"""The verifier's network: MiniLM's encoder, mean-pooled, and one logit (imports torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

from index.retrieval.encoder import native_bfloat16 as native_bfloat16


class MeanPooledScorer(torch.nn.Module):  # type: ignore[misc]
    """Score a tokenised (question, passage) pair with one logit."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

    def forward(
        self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None
    ) -> torch.Tensor:
        """Return the answer logit of each pair in the batch."""
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        return self.pooled_logit(hidden, attention_mask)

    def pooled_logit(self, hidden: torch.Tensor, attention_mask: Any) -> torch.Tensor:
        """Return the answer logit from the encoder's token vectors (training reuses them)."""
        # MiniLM was tuned with mean pooling; its [CLS] vector carries little, so pool all tokens.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        logits: torch.Tensor = self.head(pooled)[:, 0]
        return logits


def from_base(base: str) -> MeanPooledScorer:
    """Start a scorer from a pretrained BERT encoder folder (the bundled MiniLM)."""
    encoder = BertModel.from_pretrained(base, add_pooling_layer=False)
    return MeanPooledScorer(encoder)


def save(model: MeanPooledScorer, folder: Path, weights: str) -> None:
    """Write the config and fp16 safetensors weights."""
    model.encoder.config.save_pretrained(str(folder))
    state = {
        name: tensor.detach().half().contiguous() for name, tensor in model.state_dict().items()
    }
    save_file(state, str(folder / weights), metadata={"format": "pt"})


def load(folder: Path, weights: str, dtype: torch.dtype = torch.float32) -> MeanPooledScorer:
    """Build the scorer from a config and load its weights in `dtype` for the CPU."""
    config = BertConfig.from_pretrained(str(folder))
    model = MeanPooledScorer(BertModel(config, add_pooling_layer=False))
    state = {name: tensor.float() for name, tensor in load_file(str(folder / weights)).items()}
    model.load_state_dict(state, strict=True)
    model.to(dtype)
    model.eval()
    return model
