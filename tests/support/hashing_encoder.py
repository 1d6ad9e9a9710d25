"""A fast, deterministic encoder for tests of storage and quoting (not of retrieval quality)."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from index.retrieval.encoder import Vectors


class HashingEncoder:
    """Bag of hashed words, unit length; counts what it is asked to embed."""

    units = "windows"

    def __init__(self, dimension: int = 64, model_id: str = "test-hashing") -> None:
        self._dimension = dimension
        self._model_id = model_id
        self.calls: list[int] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def embedded(self) -> int:
        return sum(self.calls)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        self.calls.append(len(texts))
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % self._dimension] += 1.0
            norm = np.linalg.norm(vectors[row])
            vectors[row] = vectors[row] / norm if norm else 1.0 / np.sqrt(self._dimension)
        return vectors
