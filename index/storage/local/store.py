"""Keep the chunk vectors in a FAISS index on disk, with a manifest, updated incrementally."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.corpus.checksums import file_sha256
from index.corpus.documents import Document
from index.errors import CorruptIndex, IndexProblem, IndexWriteError, LockError, StaleIndex
from index.retrieval.encoder import Encoder, Vectors
from index.storage.local.bm25 import KeywordFiles, KeywordIndex, TermWeights
from index.storage.local.building import VectorSource, analyse_keywords, build_vectors
from index.storage.local.dense import HNSW_MIN_ROWS, DenseKind
from index.storage.local.locking import writer_lock
from index.storage.local.tables import (
    COLUMNS,
    SentenceColumns,
    Table,
    WindowColumns,
    paragraph_sentences,
    table_of,
)
from index.text.progress import Progress
from index.text.splitting import characters, split_documents
from index.text.windows import (
    DEFAULT_PARAMS,
    ChunkerParams,
    Sentence,
    unit_texts,
    window_spans,
)

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
# Each file of a generation is named "<role>.<generation>.<ext>"; the manifest names the live ones.
GENERATION_PATTERNS = (
    "documents.*.json",
    "vectors.*.faiss",
    "texts.*.bin",
    "rows.*.npy",
    "paragraphs.*.npy",
    "keywords.*.npy",
    "keywords.*.json",
    "terms.*.json",
)
# Format 1 kept every document's text and sentences in one JSON file; it is still read,
# so that an upgrade reuses its vectors instead of embedding everything again.
LEGACY_FORMAT = 1
# A failed load is retried when the manifest changed meanwhile: a writer switched generations.
LOAD_ATTEMPTS = 3
log = logging.getLogger(__name__)


@dataclass
class IndexedDocument:
    """A document with the sentences indexed from it and their rows in the vector index."""

    document: Document
    sentences: Sequence[Sentence]
    windows: Sequence[tuple[int, int]]
    first_row: int = 0

    @property
    def rows(self) -> range:
        return range(self.first_row, self.first_row + len(self.sentences))

    def in_paragraph(self, paragraph: int) -> range:
        """Return the indexes of this document's sentences in a paragraph."""
        return paragraph_sentences(self.sentences, paragraph)


@dataclass
class StoredIndex:
    """Everything a search needs: documents, their windows, the FAISS vectors and BM25."""

    documents: list[IndexedDocument]
    vectors: Any  # faiss.IndexFlatIP or faiss.IndexHNSWFlat
    model_id: str
    params: ChunkerParams
    keywords: KeywordIndex
    term_weights: TermWeights
    format: int = FORMAT_VERSION

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal)

    @property
    def dense_kind(self) -> DenseKind:
        return DenseKind.of(self.vectors)


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


def _checked_paths(folder: Path, files: Any) -> dict[str, Path]:
    """Return the generation's files by role, each verified against its manifest checksum."""
    if not isinstance(files, dict) or not files:
        raise CorruptIndex(f"manifest {folder / MANIFEST} names no files")
    paths = {}
    for role, entry in files.items():
        try:
            path = folder / str(entry["name"])
            if file_sha256(path) != entry["sha256"]:
                raise CorruptIndex(f"{path.name} does not match its checksum in the manifest")
        except FileNotFoundError as error:
            raise _Vanished(f"index file for {role} is missing ({error})") from None
        except (OSError, KeyError, TypeError) as error:
            raise CorruptIndex(
                f"index file for {role} is missing or unreadable ({error})"
            ) from None
        paths[str(role)] = path
    return paths


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
    if version not in (FORMAT_VERSION, LEGACY_FORMAT):
        raise StaleIndex(f"index format {version} is not the current {FORMAT_VERSION}")
    if stored_model != model_id:
        raise StaleIndex(f"index was built with model {stored_model!r}, settings name {model_id!r}")
    if stored_params != params:
        raise StaleIndex(f"index was built with chunker {stored_params}, now {params}")
    paths = _checked_paths(folder, files)
    try:
        if version == LEGACY_FORMAT:
            index = _read_legacy(paths, model_id, params)
        else:
            index = _read_generation(paths, model_id, params)
    except Exception as error:  # faiss raises RuntimeError; json ValueError; records KeyError
        raise CorruptIndex(
            f"index data cannot be read ({type(error).__name__}: {str(error)[:200]})"
        ) from None
    expected_rows = sum(len(item.sentences) for item in index.documents)
    if (
        index.vectors.ntotal != expected_rows
        or index.keywords.size != expected_rows
        or index.vectors.d != manifest.get("dimension")
    ):
        raise CorruptIndex(
            f"vector index holds {index.vectors.ntotal} rows of {index.vectors.d} dims, "
            f"manifest expects {expected_rows} of {manifest.get('dimension')}"
        )
    return index


def _read_generation(paths: dict[str, Path], model_id: str, params: ChunkerParams) -> StoredIndex:
    """Map the row table and BM25 postings, read the vectors and the documents' texts."""
    # A plain view of the mapping: pages are read on use, and slices stay cheap.
    rows = np.asarray(np.load(paths["rows"], mmap_mode="r", allow_pickle=False))
    paragraphs = np.load(paths["paragraphs"], allow_pickle=False)
    texts = paths["texts"].read_bytes()
    records = json.loads(paths["documents"].read_text(encoding="utf-8"))
    documents = [_document_from_record(r, rows, paragraphs, texts) for r in records]
    vectors = faiss.read_index(str(paths["vectors"]))
    stem = paths["keywords_params"].name.removesuffix(".params.json")
    keywords = KeywordIndex.load(paths["rows"].parent, KeywordFiles.named(stem))
    return StoredIndex(
        documents, vectors, model_id, params, keywords, TermWeights.load(paths["terms"])
    )


def _read_legacy(paths: dict[str, Path], model_id: str, params: ChunkerParams) -> StoredIndex:
    """Read a format-1 index (texts and sentences in JSON) so its vectors can be reused."""
    records = json.loads(paths["documents"].read_text(encoding="utf-8"))
    documents = []
    for record in records:
        sentences = [Sentence(*map(int, row)) for row in record["sentences"]]
        document = _document(record, record["text"], record["paragraphs"])
        windows = window_spans(sentences, params.window)
        documents.append(IndexedDocument(document, sentences, windows, int(record["first_row"])))
    keywords, term_weights = analyse_keywords(
        [(item.document, item.sentences) for item in documents], params
    )
    vectors = faiss.read_index(str(paths["vectors"]))
    return StoredIndex(
        documents, vectors, model_id, params, keywords, term_weights, format=LEGACY_FORMAT
    )


def _document(record: dict[str, Any], text: str, paragraphs: Sequence[Sequence[int]]) -> Document:
    """Rebuild a document from its stored metadata, text and paragraph spans (any format)."""
    return Document(
        doc_id=record["doc_id"],
        title=record["title"],
        text=text,
        source=record["source"],
        paragraphs=tuple((int(a), int(b)) for a, b in paragraphs),
        source_url=record["source_url"],
        date=record["date"],
        content_hash=record["content_hash"],
        signature=str(record.get("signature", "")),
    )


def _document_from_record(
    record: dict[str, Any], rows: Table, paragraphs: Table, texts: bytes
) -> IndexedDocument:
    text_start, text_end = map(int, record["text"])
    first, count = map(int, record["paragraphs"])
    first_row, row_count = int(record["first_row"]), int(record["rows"])
    text = texts[text_start:text_end].decode("utf-8")
    document = _document(record, text, paragraphs[first : first + count].tolist())
    block = rows[first_row : first_row + row_count]
    if block.shape[0] != row_count:
        raise ValueError(f"row table ends before {record['doc_id']!r}'s rows")
    return IndexedDocument(document, SentenceColumns(block), WindowColumns(block), first_row)


def save_index(folder: Path, index: StoredIndex) -> None:
    """Write a new generation of files, switch the manifest to it, then drop the old files."""
    folder.mkdir(parents=True, exist_ok=True)
    generation = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
    keyword_files = KeywordFiles.named(f"keywords.{generation}")
    paths = {
        "documents": folder / f"documents.{generation}.json",
        "texts": folder / f"texts.{generation}.bin",
        "paragraphs": folder / f"paragraphs.{generation}.npy",
        "rows": folder / f"rows.{generation}.npy",
        "vectors": folder / f"vectors.{generation}.faiss",
        "terms": folder / f"terms.{generation}.json",
        **{f"keywords_{role}": folder / name for role, name in keyword_files._asdict().items()},
    }
    try:
        _write_tables(index, paths)
        _write_atomically(
            paths["vectors"], lambda path: faiss.write_index(index.vectors, str(path))
        )
        _write_atomically(paths["terms"], index.term_weights.save)
        # bm25s writes its own files; they are new names, so a crash leaves only orphans.
        index.keywords.save(folder, keyword_files)
        for role, path in paths.items():
            if role.startswith("keywords_"):
                _fsync(path)
        _switch_manifest(folder, index, paths)
    except BaseException:
        # Half a generation is useless and, on a full disk, each retry would leave another.
        for path in paths.values():
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise
    # Only now is the old generation unreferenced; removing it earlier would risk the live index.
    live = set(paths.values())
    for stale in _generation_files(folder):
        if stale not in live:
            with contextlib.suppress(OSError):
                stale.unlink()


def _fsync(path: Path) -> None:
    with path.open("rb+") as stream:
        os.fsync(stream.fileno())


def _write_tables(index: StoredIndex, paths: dict[str, Path]) -> None:
    """Write the documents' metadata, their texts, paragraphs and the row table."""
    records: list[dict[str, Any]] = []
    row_count = sum(len(item.sentences) for item in index.documents)
    texts_path, rows_path = paths["texts"], paths["rows"]

    def write_texts(path: Path) -> None:
        text_offset = first_paragraph = 0
        with path.open("wb") as stream:
            for item in index.documents:
                encoded = item.document.text.encode("utf-8")
                stream.write(encoded)
                records.append(_document_record(item, text_offset, len(encoded), first_paragraph))
                text_offset += len(encoded)
                first_paragraph += len(item.document.paragraphs)

    def write_rows(path: Path) -> None:
        # Filled document by document: the whole table never exists as Python objects.
        table = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.int64, shape=(row_count, COLUMNS)
        )
        for item in index.documents:
            table[item.first_row : item.first_row + len(item.sentences)] = table_of(
                item.sentences, item.windows
            )
        table.flush()
        del table

    def write_paragraphs(path: Path) -> None:
        spans = [span for item in index.documents for span in item.document.paragraphs]
        array = np.asarray(spans, dtype=np.int64).reshape(len(spans), 2)
        with path.open("wb") as stream:
            np.save(stream, array, allow_pickle=False)

    _write_atomically(texts_path, write_texts)
    _write_atomically(rows_path, write_rows)
    _write_atomically(paths["paragraphs"], write_paragraphs)
    _write_atomically(
        paths["documents"],
        lambda path: path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8"),
    )


def _document_record(
    item: IndexedDocument, text_offset: int, text_bytes: int, first_paragraph: int
) -> dict[str, Any]:
    doc = item.document
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "source": doc.source,
        "source_url": doc.source_url,
        "date": doc.date,
        "content_hash": doc.content_hash,
        "signature": doc.signature,
        "text": [text_offset, text_offset + text_bytes],
        "paragraphs": [first_paragraph, len(doc.paragraphs)],
        "first_row": item.first_row,
        "rows": len(item.sentences),
    }


def _generation_files(folder: Path) -> list[Path]:
    return [path for pattern in GENERATION_PATTERNS for path in folder.glob(pattern)]


def _switch_manifest(folder: Path, index: StoredIndex, paths: dict[str, Path]) -> None:
    manifest = {
        "format": FORMAT_VERSION,
        "model": index.model_id,
        "dimension": int(index.vectors.d),
        "rows": index.size,
        "dense": index.dense_kind._asdict(),
        "chunker": index.params._asdict(),
        "documents": {
            item.document.doc_id: {
                "content_hash": item.document.content_hash,
                "rows": [item.first_row, item.first_row + len(item.sentences)],
            }
            for item in index.documents
        },
        "files": {
            role: {"name": path.name, "sha256": file_sha256(path)} for role, path in paths.items()
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


def _stored_vectors(index: StoredIndex, item: IndexedDocument) -> Callable[[], Vectors]:
    """Return a reader of a kept document's vectors, called when its rows are written."""
    rows = item.rows

    def read() -> Vectors:
        if not rows:
            return np.zeros((0, index.vectors.d), dtype=np.float32)
        block = index.vectors.reconstruct_n(rows.start, len(rows))
        return np.asarray(block, dtype=np.float32)

    return read


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
    if stored.format != FORMAT_VERSION:  # readable, but rewritten in the current format
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
    sources: list[VectorSource] = []
    changed = [d for d in documents if not _reusable(previous, old.get(d.doc_id), d)]
    total = sum(map(characters, changed))
    splitting = Progress("Splitting sentences", total, "characters", level=level)
    # The model is needed to embed what changed: it loads while the sentences are split.
    split = iter(
        split_documents(changed, params, meanwhile=lambda: encoder.dimension, progress=splitting)
        if changed
        else []
    )
    for document in documents:
        kept = old.get(document.doc_id)
        if previous and kept and _reusable(previous, kept, document):
            items.append(IndexedDocument(document, kept.sentences, kept.windows))
            sources.append(VectorSource(stored=_stored_vectors(previous, kept)))
            report.reused.append(document.doc_id)
            continue
        sentences = next(split)
        windows = window_spans(sentences, params.window)
        items.append(IndexedDocument(document, sentences, windows))
        sources.append(VectorSource(texts=unit_texts(document, windows, params)))
        report.embedded.append(document.doc_id)
    if changed:
        splitting.finish()
    report.removed = sorted(set(old) - {document.doc_id for document in documents})

    first_row = 0
    for item in items:
        item.first_row = first_row
        first_row += len(item.sentences)
    metadata_changed = previous is not None and any(
        not _same_metadata(old[i.document.doc_id].document, i.document)
        for i in items
        if i.document.doc_id in old
    )
    order_changed = previous is not None and [i.document.doc_id for i in items] != [
        i.document.doc_id for i in previous.documents
    ]
    needs_write = bool(
        previous is None
        or previous.format != FORMAT_VERSION
        or report.embedded
        or report.removed
        or metadata_changed
        or order_changed
    )
    if previous is not None and not needs_write:
        report.seconds = time.perf_counter() - started
        return previous, report

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
