"""Keep the chunk vectors in a FAISS index on disk, with a manifest, updated incrementally."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.checksums import file_sha256
from index.chunking import (
    DEFAULT_PARAMS,
    ChunkerParams,
    Sentence,
    split_sentences,
    unit_texts,
    window_spans,
)
from index.documents import Document
from index.embedding import Encoder, Vectors
from index.locking import LockError, writer_lock
from index.progress import Progress

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
GENERATION_PATTERNS = ("documents.*.json", "vectors.*.faiss")
EMBED_SLICE = 512
# A failed load is retried when the manifest changed meanwhile: a writer switched generations.
LOAD_ATTEMPTS = 3
log = logging.getLogger(__name__)


class IndexProblem(Exception):
    """Base for problems with the stored index."""


class CorruptIndex(IndexProblem):
    """The stored index is damaged: unreadable, truncated or not matching its checksums."""


class IndexWriteError(IndexProblem):
    """The index could not be saved (read-only, disk full, locked by another writer)."""


class StaleIndex(IndexProblem):
    """The stored index was built with another model or chunker and cannot be reused."""


@dataclass
class IndexedDocument:
    """A document with the sentences indexed from it and their rows in the vector index."""

    document: Document
    sentences: list[Sentence]
    windows: list[tuple[int, int]]
    first_row: int = 0

    @property
    def rows(self) -> range:
        return range(self.first_row, self.first_row + len(self.sentences))


@dataclass
class StoredIndex:
    """Everything a search needs: documents, their sentence windows and the FAISS vectors."""

    documents: list[IndexedDocument]
    vectors: Any  # faiss.IndexFlatIP
    model_id: str
    params: ChunkerParams

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal)


@dataclass
class SyncReport:
    """What bringing the index up to date with the corpus did."""

    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rebuilt_because: str | None = None
    wrote: bool = False
    seconds: float = 0.0
    # Set when the stored index was kept although the corpus is empty (no --prune).
    kept_because: str | None = None
    # Set when the index needed saving but could not be saved; the index in memory is current.
    save_error: str | None = None
    removed_orphans: list[str] = field(default_factory=list)


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        write(temporary_path)
        with temporary_path.open("rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)


def _document_record(item: IndexedDocument) -> dict[str, Any]:
    doc = item.document
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "source": doc.source,
        "source_url": doc.source_url,
        "date": doc.date,
        "content_hash": doc.content_hash,
        "text": doc.text,
        "paragraphs": [list(span) for span in doc.paragraphs],
        "sentences": [list(sentence) for sentence in item.sentences],
        "first_row": item.first_row,
    }


def _document_from_record(record: dict[str, Any], params: ChunkerParams) -> IndexedDocument:
    sentences = [Sentence(*map(int, row)) for row in record["sentences"]]
    document = Document(
        doc_id=record["doc_id"],
        title=record["title"],
        text=record["text"],
        source=record["source"],
        paragraphs=tuple((int(a), int(b)) for a, b in record["paragraphs"]),
        source_url=record["source_url"],
        date=record["date"],
        content_hash=record["content_hash"],
    )
    return IndexedDocument(
        document, sentences, window_spans(sentences, params.window), int(record["first_row"])
    )


class _Vanished(Exception):
    """A file named by the manifest disappeared while it was being read."""


def _read_manifest(folder: Path) -> tuple[str, dict[str, Any]]:
    """Return the manifest's text and parsed object; raise CorruptIndex if it is unusable."""
    manifest_path = folder / MANIFEST
    try:
        raw = manifest_path.read_text(encoding="utf-8")
        manifest = json.loads(raw)
    except FileNotFoundError:
        raise
    # A hostile or damaged manifest nested very deep makes json raise RecursionError.
    except (OSError, ValueError, RecursionError) as error:
        message = f"{type(error).__name__}: {str(error)[:200]}"
        raise CorruptIndex(f"manifest {manifest_path} is unreadable ({message})") from None
    if not isinstance(manifest, dict):
        raise CorruptIndex(f"manifest {manifest_path} is not a JSON object")
    return raw, manifest


def load_index(folder: Path, *, model_id: str, params: ChunkerParams) -> StoredIndex:
    """Read and verify the index; raise CorruptIndex or StaleIndex with a clear reason."""
    for attempt in range(1, LOAD_ATTEMPTS + 1):
        raw, manifest = _read_manifest(folder)
        try:
            return _load_generation(folder, manifest, model_id=model_id, params=params)
        except (_Vanished, CorruptIndex) as error:
            # A writer that switched the manifest meanwhile deleted the files it had named.
            if attempt == LOAD_ATTEMPTS or _manifest_text(folder) == raw:
                raise CorruptIndex(str(error)) from None
    raise AssertionError("unreachable")


def _manifest_text(folder: Path) -> str | None:
    try:
        return (folder / MANIFEST).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def _load_generation(
    folder: Path, manifest: dict[str, Any], *, model_id: str, params: ChunkerParams
) -> StoredIndex:
    try:
        files = manifest["files"]
        stored_params = ChunkerParams(**manifest["chunker"])
        stored_model = manifest["model"]
        version = manifest["format"]
    except (KeyError, TypeError) as error:
        raise CorruptIndex(f"manifest {folder / MANIFEST} is unreadable ({error!r})") from None
    if version != FORMAT_VERSION:
        raise StaleIndex(f"index format {version} is not the current {FORMAT_VERSION}")
    if stored_model != model_id:
        raise StaleIndex(f"index was built with model {stored_model!r}, settings name {model_id!r}")
    if stored_params != params:
        raise StaleIndex(f"index was built with chunker {stored_params}, now {params}")
    paths = {}
    for role in ("documents", "vectors"):
        try:
            entry = files[role]
            path = folder / str(entry["name"])
            if file_sha256(path) != entry["sha256"]:
                raise CorruptIndex(f"{path.name} does not match its checksum in the manifest")
        except FileNotFoundError as error:
            raise _Vanished(f"index file for {role} is missing ({error})") from None
        except (OSError, KeyError, TypeError) as error:
            raise CorruptIndex(
                f"index file for {role} is missing or unreadable ({error})"
            ) from None
        paths[role] = path
    try:
        records = json.loads(paths["documents"].read_text(encoding="utf-8"))
        documents = [_document_from_record(record, params) for record in records]
        vectors = faiss.read_index(str(paths["vectors"]))
    except Exception as error:  # faiss raises RuntimeError; json ValueError; records KeyError
        raise CorruptIndex(
            f"index data cannot be read ({type(error).__name__}: {str(error)[:200]})"
        ) from None
    expected_rows = sum(len(item.sentences) for item in documents)
    if vectors.ntotal != expected_rows or vectors.d != manifest.get("dimension"):
        raise CorruptIndex(
            f"vector index holds {vectors.ntotal} rows of {vectors.d} dims, "
            f"manifest expects {expected_rows} of {manifest.get('dimension')}"
        )
    return StoredIndex(documents, vectors, model_id, params)


def save_index(folder: Path, index: StoredIndex) -> None:
    """Write a new generation of files, switch the manifest to it, then drop the old files."""
    folder.mkdir(parents=True, exist_ok=True)
    generation = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
    documents_path = folder / f"documents.{generation}.json"
    vectors_path = folder / f"vectors.{generation}.faiss"
    records = [_document_record(item) for item in index.documents]
    try:
        _write_atomically(
            documents_path,
            lambda path: path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8"),
        )
        _write_atomically(vectors_path, lambda path: faiss.write_index(index.vectors, str(path)))
        _switch_manifest(folder, index, documents_path, vectors_path)
    except BaseException:
        # Half a generation is useless and, on a full disk, each retry would leave another.
        for path in (documents_path, vectors_path):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise
    # Only now is the old generation unreferenced; removing it earlier would risk the live index.
    for stale in _generation_files(folder):
        if stale not in (documents_path, vectors_path):
            with contextlib.suppress(OSError):
                stale.unlink()


def _generation_files(folder: Path) -> list[Path]:
    return [path for pattern in GENERATION_PATTERNS for path in folder.glob(pattern)]


def _switch_manifest(
    folder: Path, index: StoredIndex, documents_path: Path, vectors_path: Path
) -> None:
    manifest = {
        "format": FORMAT_VERSION,
        "model": index.model_id,
        "dimension": int(index.vectors.d),
        "chunker": index.params._asdict(),
        "documents": {
            item.document.doc_id: {
                "content_hash": item.document.content_hash,
                "rows": [item.first_row, item.first_row + len(item.sentences)],
            }
            for item in index.documents
        },
        "files": {
            "documents": {"name": documents_path.name, "sha256": file_sha256(documents_path)},
            "vectors": {"name": vectors_path.name, "sha256": file_sha256(vectors_path)},
        },
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_atomically(
        folder / MANIFEST,
        lambda path: path.write_text(json.dumps(manifest, indent=2), encoding="utf-8"),
    )


def remove_orphans(folder: Path) -> list[str]:
    """Delete temporary files and generations the manifest does not name; call under the lock."""
    try:
        _, manifest = _read_manifest(folder)
        files = manifest.get("files", {})
        referenced = {str(entry.get("name")) for entry in files.values()}
    except (FileNotFoundError, IndexProblem, AttributeError, TypeError):
        referenced = set()
    removed = []
    try:
        candidates = [*folder.glob(".*.tmp"), *_generation_files(folder)]
    except OSError:
        return []
    for path in candidates:
        if path.name in referenced:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    if removed:
        log.warning("Removed %d file(s) left by an interrupted write: %s", len(removed), removed)
    return sorted(removed)


def _stored_vectors(index: StoredIndex, item: IndexedDocument) -> Vectors:
    rows = item.rows
    if not rows:
        return np.zeros((0, index.vectors.d), dtype=np.float32)
    return np.asarray(index.vectors.reconstruct_n(rows.start, len(rows)), dtype=np.float32)


def _same_metadata(old: Document, new: Document) -> bool:
    return (old.title, old.source, old.source_url, old.date) == (
        new.title,
        new.source,
        new.source_url,
        new.date,
    )


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
) -> tuple[StoredIndex, SyncReport]:
    """Sync under the folder's writer lock; if it cannot be saved, serve the index in memory."""
    # Every index folder (the main one or one per server) is updated through here. With
    # `must_save`, a failure raises IndexWriteError instead (before embedding, if the lock fails).
    started = time.perf_counter()
    current = _current_index(folder, documents, encoder.model_id, params)
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
            )
            report.removed_orphans = orphans
            return index, report
    except LockError as error:
        if must_save:
            raise IndexWriteError(str(error)) from None
        problem = str(error)
    # No lock: read what is on disk (never write or clean up) and bring it up to date in memory.
    index, report = sync_index(
        folder, documents, encoder, params, prune=prune, save=False, show_progress=show_progress
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
    folder: Path, documents: list[Document], model_id: str, params: ChunkerParams
) -> StoredIndex | None:
    """Return the stored index if it already matches the documents exactly, else None."""
    try:
        stored = load_index(folder, model_id=model_id, params=params)
    except (OSError, IndexProblem):
        return None
    if [d.doc_id for d in documents] != [i.document.doc_id for i in stored.documents]:
        return None
    for new, item in zip(documents, stored.documents, strict=True):
        if item.document.content_hash != new.content_hash or not _same_metadata(item.document, new):
            return None
    return stored


def _tidy(folder: Path) -> list[str]:
    """Remove leftovers of an interrupted write if no other process holds the lock now."""
    try:
        with writer_lock(folder, timeout=0):
            return remove_orphans(folder)
    except LockError:
        return []


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

    if not documents and previous is not None and previous.documents and not prune:
        # An empty corpus is more often a missing mount or a typo than an intent to delete all.
        report.kept_because = (
            f"the corpus is empty, so the existing index of {len(previous.documents)} "
            "document(s) was kept (run `python -m bot index --prune` to empty it)"
        )
        report.reused = [item.document.doc_id for item in previous.documents]
        log.warning("Not updating the index: %s", report.kept_because)
        report.seconds = time.perf_counter() - started
        return previous, report

    level = logging.INFO if show_progress else logging.DEBUG
    items: list[IndexedDocument] = []
    blocks: list[Vectors] = []
    to_embed: list[tuple[int, list[str]]] = []
    changed = [d for d in documents if not _reusable(previous, old.get(d.doc_id), d)]
    characters = sum(end - start for d in changed for start, end in d.paragraphs)
    splitting = Progress("Splitting sentences", characters, "characters", level=level)
    for document in documents:
        kept = old.get(document.doc_id)
        if previous and kept and _reusable(previous, kept, document):
            items.append(IndexedDocument(document, kept.sentences, kept.windows))
            blocks.append(_stored_vectors(previous, kept))
            report.reused.append(document.doc_id)
            continue
        sentences = split_sentences(document, params, splitting.advance)
        windows = window_spans(sentences, params.window)
        items.append(IndexedDocument(document, sentences, windows))
        blocks.append(np.zeros((0, 0), dtype=np.float32))
        to_embed.append((len(items) - 1, unit_texts(document, windows, params)))
        report.embedded.append(document.doc_id)
    if changed:
        splitting.finish()
    report.removed = sorted(set(old) - {document.doc_id for document in documents})

    if to_embed:
        texts = [text for _, chunk_texts in to_embed for text in chunk_texts]
        vectors = _embed(encoder, texts, level)
        cursor = 0
        for position, chunk_texts in to_embed:
            blocks[position] = vectors[cursor : cursor + len(chunk_texts)]
            cursor += len(chunk_texts)

    first_row = 0
    for item in items:
        item.first_row = first_row
        first_row += len(item.sentences)
    # Reuse the stored dimension so that an up-to-date index never needs the model loaded.
    dimension = int(previous.vectors.d) if previous and not to_embed else encoder.dimension
    vector_index = faiss.IndexFlatIP(dimension)
    nonempty = [block for block in blocks if len(block)]
    if nonempty:
        vector_index.add(np.ascontiguousarray(np.vstack(nonempty), dtype=np.float32))
    index = StoredIndex(items, vector_index, encoder.model_id, params)

    metadata_changed = previous is not None and any(
        not _same_metadata(old[i.document.doc_id].document, i.document)
        for i in items
        if i.document.doc_id in old
    )
    order_changed = previous is not None and [i.document.doc_id for i in items] != [
        i.document.doc_id for i in previous.documents
    ]
    if previous is None or to_embed or report.removed or metadata_changed or order_changed:
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


def _reusable(previous: StoredIndex | None, kept: IndexedDocument | None, new: Document) -> bool:
    return bool(previous and kept and kept.document.content_hash == new.content_hash)


def _embed(encoder: Encoder, texts: list[str], level: int) -> Vectors:
    """Embed in slices, logging progress: a large corpus takes many minutes on a CPU."""
    progress = Progress("Embedding", len(texts), "sentence windows", level=level)
    parts = []
    for start in range(0, len(texts), EMBED_SLICE):
        parts.append(encoder.encode(texts[start : start + EMBED_SLICE]))
        progress.advance(len(parts[-1]))
    progress.finish()
    if not parts:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


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
