"""Reach the local store's files behind an engine, for tests of the on-disk format."""

from __future__ import annotations

from index import Engine
from index.storage.local.files import StoredIndex
from index.storage.local.view import LocalView


def stored_index(engine: Engine) -> StoredIndex:
    """Return the local index an engine serves (the tests' engines all use the local store)."""
    view = engine.searcher.backend
    assert isinstance(view, LocalView)
    return view.index
