"""The local store's files: a generation of FAISS, bm25s and table files named by a manifest."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.corpus.checksums import file_sha256
from index.corpus.documents import Document
from index.errors import CorruptIndex, IndexProblem, StaleIndex
from index.storage.base import IndexedDocument
from index.storage.local.bm25 import KeywordFiles, KeywordIndex, TermWeights
from index.storage.local.building import analyse_keywords
from index.storage.local.dense import DenseKind
from index.storage.tables import COLUMNS, SentenceColumns, Table, WindowColumns, table_of
from index.text.windows import ChunkerParams, Sentence, window_spans

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
    # Counts the saved generations; an index saved before the count existed reads as 0.
    generation: int = 0

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal)

    @property
    def dense_kind(self) -> DenseKind:
        return DenseKind.of(self.vectors)


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


def recorded_model(folder: Path) -> str | None:
    """Return the model id the folder's index was built with; None with no readable index."""
    try:
        _, manifest = _read_manifest(folder)
    except (OSError, CorruptIndex):
        return None
    model = manifest.get("model")
    return model if isinstance(model, str) else None


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
    generation = manifest.get("generation", 0)
    index.generation = generation if isinstance(generation, int) and generation >= 0 else 0
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


def _document(
    record: dict[str, Any],
    text: str,
    paragraphs: Sequence[Sequence[int]] | tuple[tuple[int, int], ...],
) -> Document:
    """Rebuild a document from its stored metadata, text and paragraph spans (any format)."""
    return Document(
        doc_id=record["doc_id"],
        title=record["title"],
        text=text,
        source=record["source"],
        paragraphs=(
            paragraphs
            if isinstance(paragraphs, tuple)
            else tuple((int(a), int(b)) for a, b in paragraphs)
        ),
        source_url=record["source_url"],
        date=record["date"],
        content_hash=record["content_hash"],
        signature=str(record.get("signature", "")),
    )


def _document_from_record(
    record: dict[str, Any], rows: Table, paragraphs: Table, texts: bytes
) -> IndexedDocument:
    # The numbers are JSON integers; anything else fails the slicing below, as corrupt.
    text_start, text_end = record["text"]
    first, count = record["paragraphs"]
    first_row, row_count = record["first_row"], record["rows"]
    text = texts[text_start:text_end].decode("utf-8")
    # One conversion of the block to Python ints, not one int() per number.
    spans: tuple[tuple[int, int], ...] = tuple(
        map(tuple, paragraphs[first : first + count].tolist())
    )
    document = _document(record, text, spans)
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
        # Old readers ignore this key, so the files stay readable by the code before it.
        "generation": index.generation,
        "model": index.model_id,
        "dimension": int(index.vectors.d),
        "rows": index.size,
        "dense": index.dense_kind._asdict(),
        "chunker": index.params._asdict(),
        # Each document's hash and rows are in the documents file: listed here as well, they
        # made the manifest grow with the corpus (7 MB for 41k documents), read at each open.
        "document_count": len(index.documents),
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
    # The caller says what was removed, after any reason the index is being rebuilt.
    referenced: set[str] = set()
    damaged = False
    try:
        _, manifest = _read_manifest(folder)
        files = manifest.get("files", {})
        referenced = {str(entry.get("name")) for entry in files.values()}
    except FileNotFoundError:
        pass  # generations written before any manifest are a first build that crashed
    except (IndexProblem, AttributeError, TypeError):
        # The manifest is damaged, not the write interrupted: the load that follows says so,
        # and the rebuild's save drops the generation it can no longer name.
        damaged = True
    removed = []
    try:
        candidates = [*folder.glob(".*.tmp"), *([] if damaged else _generation_files(folder))]
    except OSError:
        return []
    for path in candidates:
        if path.name in referenced:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    return sorted(removed)
