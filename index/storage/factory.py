"""Open the store the settings name; the only module that imports a store's implementation."""

from __future__ import annotations

from index.settings import EngineSettings
from index.storage.base import Store
from index.storage.local.store import LocalStore


def open_store(settings: EngineSettings, model_id: str) -> Store:
    """Return the store the settings name: today the local folder of files, the index folder."""
    # Another store joins here, chosen by its own setting; the engine never knows which it has.
    return LocalStore(
        settings.index_dir,
        model_id=model_id,
        lock_timeout=settings.lock_timeout,
        hnsw_min_rows=settings.hnsw_min_rows,
    )
