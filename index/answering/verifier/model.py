"""A trained cross-encoder that judges whether a sentence, in its context, answers a question."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from index.corpus.checksums import file_sha256
from index.errors import VerifierError
from index.settings import PRECISIONS

log = logging.getLogger(__name__)

# The weights ship inside the package so that a fresh clone, a wheel or the Docker image all
# have them without a training step or a download.
BUNDLED_VERIFIER = Path(__file__).resolve().parent / "weights"
WEIGHTS = "model.safetensors"
CARD = "verifier.json"
FORMAT = 1
BATCH = 32


class Judged(NamedTuple):
    """A sentence to judge: the sentence itself, its neighbours and its document's title."""

    sentence: str
    before: str
    after: str
    title: str


def pair_text(item: Judged) -> str:
    """Return the passage side of a pair: the sentence first, so truncation cuts context only."""
    context = " ".join(part for part in (item.before, item.after) if part)
    return f"{item.sentence} [SEP] {item.title}. {context}".strip()


@dataclass(frozen=True)
class VerifierCard:
    """What the training run recorded beside the weights: checksum, threshold and input size."""

    sha256: str
    threshold: float
    max_length: int
    format: int

    @classmethod
    def read(cls, folder: Path) -> VerifierCard:
        """Read and check `verifier.json`, or raise VerifierError."""
        path = folder / CARD
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            card = cls(
                sha256=str(data["sha256"]),
                threshold=float(data["threshold"]),
                max_length=int(data["max_length"]),
                format=int(data["format"]),
            )
        except FileNotFoundError:
            raise VerifierError(f"Verifier card {path} is missing.") from None
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
            raise VerifierError(f"Verifier card {path} is unreadable ({error}).") from None
        if card.format != FORMAT:
            raise VerifierError(
                f"Verifier at {folder} has input format {card.format}; "
                f"this Verbatim reads format {FORMAT}."
            )
        if not 0.0 < card.threshold < 1.0 or not 16 <= card.max_length <= 512:
            raise VerifierError(f"Verifier card {path} has out-of-range values.")
        return card


class Verifier:
    """Scores P(sentence answers question) with a small BERT cross-encoder on the CPU."""

    def __init__(self, folder: Path = BUNDLED_VERIFIER, precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise VerifierError(f"Verifier precision {precision!r} is not one of {PRECISIONS}.")
        self.folder = folder
        self.card = VerifierCard.read(folder)
        weights = folder / WEIGHTS
        if not weights.is_file():
            raise VerifierError(f"Verifier weights {weights} are missing.")
        self.sha256 = file_sha256(weights)
        if self.sha256 != self.card.sha256:
            # A truncated checkout or a git-lfs pointer would otherwise load as garbage.
            raise VerifierError(
                f"Verifier weights {weights} are corrupt: sha256 {self.sha256[:12]}… does not "
                f"match {self.card.sha256[:12]}… in {CARD}."
            )
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            import torch
            from transformers import AutoTokenizer

            from index.answering.verifier import network as verifier_net

            self._tokenizer: Any = AutoTokenizer.from_pretrained(str(folder))
            if precision == "auto":
                precision = "bfloat16" if verifier_net.native_bfloat16() else "float32"
            model = verifier_net.load(folder, WEIGHTS, getattr(torch, precision))
        except Exception as error:  # transformers raises OSError, ValueError, safetensors errors
            raise VerifierError(
                f"Cannot load the verifier from {folder} ({type(error).__name__}: {error})."
            ) from None
        # bfloat16 runs about 2.7x faster where the CPU has AMX or AVX512-BF16 and moves a logit
        # by at most about 0.05 (`tests/unit/test_verifier.py` bounds it); elsewhere it is emulated
        # and slow, so "auto" keeps float32 there.
        self.precision = precision
        log.info("Verifier loaded from %s in %s.", folder, precision)
        self._model: Any = model
        self._torch: Any = torch
        # One forward pass at a time: two at once on two cores only thrash.
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def logits(self, question: str, items: list[Judged]) -> NDArray[np.float32]:
        """Return the raw answer logit of each item for the question."""
        if not items:
            return np.zeros(0, dtype=np.float32)
        out = []
        with self._lock, self._torch.inference_mode():
            for lo in range(0, len(items), BATCH):
                batch = items[lo : lo + BATCH]
                encoded = self._tokenizer(
                    [question] * len(batch),
                    [pair_text(item) for item in batch],
                    truncation="only_second",
                    max_length=self.card.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                out.append(self._model(**encoded).float().numpy())
        return np.concatenate(out).astype(np.float32)

    def score(self, question: str, items: list[Judged]) -> NDArray[np.float32]:
        """Return P(item answers the question) for each item."""
        return sigmoid(self.logits(question, items))


def sigmoid(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Map logits to probabilities without overflow."""
    probabilities: NDArray[np.float32] = (0.5 * (1.0 + np.tanh(0.5 * values))).astype(np.float32)
    return probabilities


def load_verifier(setting: str, precision: str = "auto") -> Verifier | None:
    """Load the verifier a setting names: 'bundled', a folder, or 'off' for the heuristic judge."""
    if setting.strip().lower() == "off":
        log.warning(
            "VERBATIM_VERIFIER=off: answers are judged by word overlap alone, which quotes "
            "passages that mention a question's words without answering it."
        )
        return None
    folder = BUNDLED_VERIFIER if setting.strip().lower() == "bundled" else Path(setting)
    try:
        return Verifier(folder, precision)
    except VerifierError as error:
        raise VerifierError(
            f"{error} Restore the shipped files (git checkout index/answering/verifier/weights), "
            "point VERBATIM_VERIFIER at a trained folder, or set VERBATIM_VERIFIER=off to answer "
            "with the weaker heuristic judge."
        ) from None
