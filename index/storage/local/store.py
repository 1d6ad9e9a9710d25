"""The local store: brings an index folder in line with the documents, under its writer lock."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.corpus.documents import Document
from index.errors import IndexProblem, IndexWriteError, LockError
from index.retrieval.encoder import Encoder, Vectors, composes_windows
from index.storage.base import IndexedDocument, Store, StoreView, SyncReport
from index.storage.local.building import VectorSource, analyse_keywords, build_vectors
from index.storage.local.dense import HNSW_MIN_ROWS
from index.storage.local.files import (
    FORMAT_VERSION,
    MANIFEST,
    StoredIndex,
    _write_atomically,
    load_index,
    recorded_model,
    remove_orphans,
    save_index,
)
from index.storage.local.locking import writer_lock
from index.storage.local.view import LocalView
from index.storage.plan import SyncPlan, plan_sync
from index.text.progress import Progress
from index.text.splitting import characters, split_documents
from index.text.windows import DEFAULT_PARAMS, ChunkerParams, window_spans

log = logging.getLogger(__name__)


def _stored_vectors(index: StoredIndex, item: IndexedDocument) -> Callable[[], Vectors]:
    """Return a reader of a kept document's vectors, called when its rows are written."""
    rows = item.rows

    def read() -> Vectors:
        if not rows:
            return np.zeros((0, index.vectors.d), dtype=np.float32)
        block = index.vectors.reconstruct_n(rows.start, len(rows))
        return np.asarray(block, dtype=np.float32)

    return read


def update_index(
    folder: Path,
    documents: list[Document],
    encoder: Encoder,
    params: ChunkerParams = DEFAULT_PARAMS,
    *,
    prune: bool = False,
    lock_timeout: float = 30.0,
    show_progress: bool = False,
    must_save: bool = False,
    hnsw_min_rows: int = HNSW_MIN_ROWS,
    stored: StoredIndex | None = None,
) -> tuple[StoredIndex, SyncReport]:
    """Sync under the folder's writer lock; if it cannot be saved, serve the index in memory."""
    # Every index folder (the main one or one per server) is updated through here. With
    # `must_save`, a failure raises IndexWriteError instead (before embedding, if the lock fails).
    started = time.perf_counter()
    # `stored`: the index just read from this folder by the caller, so it is not read twice.
    current = _current_index(folder, documents, encoder.model_id, params, stored)
    if current is not None:
        # Nothing to write: no lock to wait for, and a read-only index folder is fine.
        report = SyncReport(reused=[d.doc_id for d in documents])
        report.removed_orphans = _tidy(folder)
        report.seconds = time.perf_counter() - started
        return current, report
    try:
        with writer_lock(folder, timeout=lock_timeout):
            orphans = remove_orphans(folder)
            index, report = sync_index(
                folder,
                documents,
                encoder,
                params,
                prune=prune,
                show_progress=show_progress,
                must_save=must_save,
                hnsw_min_rows=hnsw_min_rows,
            )
            report.removed_orphans = orphans
            _say_removed(orphans)
            return index, report
    except LockError as error:
        if must_save:
            raise IndexWriteError(str(error)) from None
        problem = str(error)
    # No lock: read what is on disk (never write or clean up) and bring it up to date in memory.
    index, report = sync_index(
        folder,
        documents,
        encoder,
        params,
        prune=prune,
        save=False,
        show_progress=show_progress,
        hnsw_min_rows=hnsw_min_rows,
    )
    if report.save_error is not None:
        report.save_error = problem
        log.error(
            "Cannot update the index in %s: %s. Answering from the index in memory; "
            "it will be saved at a later start.",
            folder,
            problem,
        )
    return index, report


def _current_index(
    folder: Path,
    documents: list[Document],
    model_id: str,
    params: ChunkerParams,
    stored: StoredIndex | None = None,
) -> StoredIndex | None:
    """Return the stored index if it already matches the documents exactly, else None."""
    if stored is None:
        try:
            stored = load_index(folder, model_id=model_id, params=params)
        except (OSError, IndexProblem):
            return None
    plan = plan_sync(
        [item.document for item in stored.documents],
        documents,
        stored_is_current=stored.format == FORMAT_VERSION,
    )
    if plan.rewrite or plan.kept_because:
        return None
    return stored


def _tidy(folder: Path) -> list[str]:
    """Remove leftovers of an interrupted write if no other process holds the lock now."""
    try:
        with writer_lock(folder, timeout=0):
            removed = remove_orphans(folder)
    except LockError:
        return []
    _say_removed(removed)
    return removed


def _say_removed(removed: list[str]) -> None:
    """Log the leftovers of an interrupted write that were removed, if any."""
    if removed:
        log.warning("Removed %d file(s) left by an interrupted write: %s", len(removed), removed)


def sync_index(
    folder: Path,
    documents: list[Document],
    encoder: Encoder,
    params: ChunkerParams = DEFAULT_PARAMS,
    *,
    prune: bool = False,
    save: bool = True,
    show_progress: bool = False,
    must_save: bool = False,
    hnsw_min_rows: int = HNSW_MIN_ROWS,
) -> tuple[StoredIndex, SyncReport]:
    """Bring the on-disk index in line with the documents, embedding only what changed."""
    # A failed save is reported in `SyncReport.save_error` (raised only with `must_save`).
    # Callers outside tests want update_index, which holds the folder's writer lock.
    started = time.perf_counter()
    report = SyncReport()
    previous: StoredIndex | None = None
    try:
        previous = load_index(folder, model_id=encoder.model_id, params=params)
    except FileNotFoundError:
        report.rebuilt_because = "no index yet"
    except NotADirectoryError:
        report.rebuilt_because = f"{folder} is not a folder"
    except IndexProblem as error:
        report.rebuilt_because = str(error)
        log.warning("Rebuilding the index: %s", error)
    old = {item.document.doc_id: item for item in previous.documents} if previous else {}
    plan = plan_sync(
        [item.document for item in previous.documents] if previous else None,
        documents,
        prune=prune,
        stored_is_current=previous is not None and previous.format == FORMAT_VERSION,
    )
    if previous is not None and plan.kept_because:
        report.kept_because = plan.kept_because
        report.reused = plan.reuse
        log.warning("Not updating the index: %s", report.kept_because)
        report.seconds = time.perf_counter() - started
        return previous, report
    report.removed = plan.remove
    if previous is not None and not plan.rewrite:
        report.reused = plan.reuse
        report.seconds = time.perf_counter() - started
        return previous, report
    level = logging.INFO if show_progress else logging.DEBUG
    items, sources = _plan_rows(previous, old, documents, plan, encoder, params, report, level)
    first_row = sum(len(item.sentences) for item in items)

    # Reuse the stored dimension so that an up-to-date index never needs the model loaded.
    dimension = int(previous.vectors.d) if previous and not report.embedded else encoder.dimension
    vectors = build_vectors(
        sources,
        encoder,
        rows=first_row,
        dimension=dimension,
        level=level,
        hnsw_min_rows=hnsw_min_rows,
    )
    keywords, term_weights = analyse_keywords(
        [(item.document, item.sentences) for item in items],
        params,
        Progress("Weighing keywords", first_row, "sentence windows", level=level),
    )
    index = StoredIndex(items, vectors, encoder.model_id, params, keywords, term_weights)
    index.generation = (previous.generation if previous else 0) + 1

    if not save:
        report.save_error = "not saved"
    else:
        try:
            save_index(folder, index)
            report.wrote = True
        except (OSError, RuntimeError) as error:  # faiss reports I/O errors as RuntimeError
            report.save_error = f"cannot write to {folder} ({_describe(error)})"
            if must_save:
                raise IndexWriteError(report.save_error) from None
            log.error(
                "Cannot save the index: %s. Answering from the index in memory; "
                "the saved index is unchanged.",
                report.save_error,
            )
    report.seconds = time.perf_counter() - started
    return index, report


def _plan_rows(
    previous: StoredIndex | None,
    old: dict[str, IndexedDocument],
    documents: list[Document],
    plan: SyncPlan,
    encoder: Encoder,
    params: ChunkerParams,
    report: SyncReport,
    level: int,
) -> tuple[list[IndexedDocument], list[VectorSource]]:
    """Lay the documents out as rows: kept ones with their stored vectors, the rest split anew."""
    total = sum(map(characters, plan.embed))
    splitting = Progress("Splitting sentences", total, "characters", level=level)
    # The model is needed to embed what changed: it loads while the sentences are split.
    split = iter(
        split_documents(plan.embed, params, meanwhile=lambda: encoder.dimension, progress=splitting)
        if plan.embed
        else []
    )
    reuse = set(plan.reuse)
    items: list[IndexedDocument] = []
    sources: list[VectorSource] = []
    for document in documents:
        kept = old.get(document.doc_id)
        if previous is not None and kept is not None and document.doc_id in reuse:
            items.append(IndexedDocument(document, kept.sentences, kept.windows))
            sources.append(VectorSource(stored=_stored_vectors(previous, kept)))
            report.reused.append(document.doc_id)
            continue
        sentences = next(split)
        windows = window_spans(sentences, params.window)
        items.append(IndexedDocument(document, sentences, windows))
        sources.append(
            VectorSource(
                document=document,
                windows=windows,
                params=params,
                sentences=sentences if composes_windows(encoder) else (),
            )
        )
        report.embedded.append(document.doc_id)
    if plan.embed:
        splitting.finish()
    first_row = 0
    for item in items:
        item.first_row = first_row
        first_row += len(item.sentences)
    return items, sources


def _describe(error: Exception) -> str:
    """Return an error's reason without a traceback, e.g. "No space left on device"."""
    reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[-1:] or [""]
    text = reason if isinstance(reason, str) else reason[0]
    return text[:200] or type(error).__name__


def record_verifier(folder: Path, location: Path, sha256: str) -> None:
    """Note in the manifest which verifier weights judge answers from this index."""
    path = folder / MANIFEST
    entry = {"path": str(location), "sha256": sha256}
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("verifier") == entry:
            return
        # Best effort, under the writer lock but never waiting for it: the record is for
        # operators, and answering must not depend on writing (read-only volumes, busy writers).
        with writer_lock(folder, timeout=0):
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest["verifier"] = entry
            text = json.dumps(manifest, indent=2)
            _write_atomically(path, lambda temporary: temporary.write_text(text, "utf-8"))
    except (OSError, ValueError, AttributeError, RecursionError, LockError) as error:
        log.info("Verifier not recorded in %s: %s", path, _describe(error))


class LocalStore(Store):
    """An index folder of FAISS and bm25s files under a manifest, one writer at a time (flock)."""

    def __init__(
        self,
        folder: Path,
        *,
        model_id: str,
        params: ChunkerParams = DEFAULT_PARAMS,
        lock_timeout: float = 30.0,
        hnsw_min_rows: int = HNSW_MIN_ROWS,
    ) -> None:
        self.folder = folder
        self.model_id = model_id
        self.params = params
        self.lock_timeout = lock_timeout
        self.hnsw_min_rows = hnsw_min_rows

    @property
    def relations_cache(self) -> Path:
        return self.folder

    def latest_generation(self) -> None:
        # An index folder changes through this process's own syncs; /docs re-indexes in place.
        return None

    def view(self) -> LocalView | None:
        try:
            return LocalView(load_index(self.folder, model_id=self.model_id, params=self.params))
        except (OSError, IndexProblem):
            return None

    def sync(
        self,
        documents: list[Document],
        encoder: Encoder,
        *,
        prune: bool = False,
        must_save: bool = False,
        show_progress: bool = False,
        current: StoreView | None = None,
    ) -> tuple[LocalView, SyncReport]:
        stored = current.index if isinstance(current, LocalView) else None
        index, report = update_index(
            self.folder,
            documents,
            encoder,
            self.params,
            prune=prune,
            lock_timeout=self.lock_timeout,
            show_progress=show_progress,
            must_save=must_save,
            hnsw_min_rows=self.hnsw_min_rows,
            stored=stored,
        )
        # An unchanged index is served as the very view it was read into.
        if isinstance(current, LocalView) and index is current.index:
            return current, report
        return LocalView(index), report

    def recorded_model(self) -> str | None:
        return recorded_model(self.folder)

    def note_verifier(self, location: Path, sha256: str) -> None:
        record_verifier(self.folder, location, sha256)
