"""Plan a sync for any store: which documents to reuse as stored, which to embed, which to drop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.corpus.documents import Document


@dataclass(frozen=True)
class SyncPlan:
    """What bringing a store in line with the corpus takes, decided before anything is read."""

    # Documents whose stored windows and vectors serve unchanged (same id and content).
    reuse: list[str]
    # New documents and documents whose content changed: split into windows and embed these.
    embed: list[Document]
    # Stored documents the corpus no longer has.
    remove: list[str]
    # Whether a new generation must be written: also for changed titles, links or order.
    rewrite: bool
    # Set when the corpus is empty but the store is not: the store is then kept as it is.
    kept_because: str | None = None


def same_metadata(old: Document, new: Document) -> bool:
    """Say whether two versions of a document agree on everything shown besides the text."""
    return (old.title, old.source, old.source_url, old.date) == (
        new.title,
        new.source,
        new.source_url,
        new.date,
    )


def plan_sync(
    stored: Sequence[Document] | None,
    documents: Sequence[Document],
    *,
    prune: bool = False,
    stored_is_current: bool = True,
) -> SyncPlan:
    """Compare the stored documents (None: nothing readable is stored) with the corpus."""
    # `stored_is_current` is False for a store readable in an older format: it is rewritten.
    old = {document.doc_id: document for document in stored or ()}
    if not documents and old and not prune:
        # An empty corpus is more often a missing mount or a typo than an intent to delete all.
        reason = (
            f"the corpus is empty, so the existing index of {len(old)} "
            "document(s) was kept (run `python -m bot index --prune` to empty it)"
        )
        return SyncPlan(list(old), [], [], False, kept_because=reason)
    reuse, embed = [], []
    for document in documents:
        kept = old.get(document.doc_id)
        if kept is not None and kept.content_hash == document.content_hash:
            reuse.append(document.doc_id)
        else:
            embed.append(document)
    remove = sorted(set(old) - {document.doc_id for document in documents})
    metadata_changed = any(
        not same_metadata(old[d.doc_id], d) for d in documents if d.doc_id in old
    )
    order_changed = [d.doc_id for d in documents] != [d.doc_id for d in stored or ()]
    rewrite = bool(
        stored is None
        or not stored_is_current
        or embed
        or remove
        or metadata_changed
        or order_changed
    )
    return SyncPlan(reuse, embed, remove, rewrite)
