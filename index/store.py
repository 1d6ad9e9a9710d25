"""Keep the chunk vectors in a FAISS index on disk, with a manifest, updated incrementally."""

from __future__ import annotations

import contextlib
import hashlib
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

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
log = logging.getLogger(__name__)


class IndexProblem(Exception):
    """Base for problems with the stored index."""


class CorruptIndex(IndexProblem):
    """The stored index is damaged: unreadable, truncated or not matching its checksums."""


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def load_index(folder: Path, *, model_id: str, params: ChunkerParams) -> StoredIndex:
    """Read and verify the index; raise CorruptIndex or StaleIndex with a clear reason."""
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        stored_params = ChunkerParams(**manifest["chunker"])
        stored_model = manifest["model"]
        version = manifest["format"]
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorruptIndex(f"manifest {manifest_path} is unreadable ({error})") from None
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
            path = folder / entry["name"]
            if _sha256(path) != entry["sha256"]:
                raise CorruptIndex(f"{path.name} does not match its checksum in the manifest")
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
        raise CorruptIndex(f"index data cannot be read ({type(error).__name__}: {error})") from None
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
    _write_atomically(
        documents_path,
        lambda path: path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8"),
    )
    _write_atomically(vectors_path, lambda path: faiss.write_index(index.vectors, str(path)))
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
            "documents": {"name": documents_path.name, "sha256": _sha256(documents_path)},
            "vectors": {"name": vectors_path.name, "sha256": _sha256(vectors_path)},
        },
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_atomically(
        folder / MANIFEST,
        lambda path: path.write_text(json.dumps(manifest, indent=2), encoding="utf-8"),
    )
    # Only now is the old generation unreferenced; removing it earlier would risk the live index.
    for stale in [*folder.glob("documents.*.json"), *folder.glob("vectors.*.faiss")]:
        if stale not in (documents_path, vectors_path):
            with contextlib.suppress(OSError):
                stale.unlink()


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


def sync_index(
    folder: Path,
    documents: list[Document],
    encoder: Encoder,
    params: ChunkerParams = DEFAULT_PARAMS,
    *,
    show_progress: bool = False,
) -> tuple[StoredIndex, SyncReport]:
    """Bring the on-disk index in line with the documents, embedding only what changed."""
    started = time.perf_counter()
    report = SyncReport()
    previous: StoredIndex | None = None
    try:
        previous = load_index(folder, model_id=encoder.model_id, params=params)
    except FileNotFoundError:
        report.rebuilt_because = "no index yet"
    except IndexProblem as error:
        report.rebuilt_because = str(error)
        log.warning("Rebuilding the index: %s", error)
    old = {item.document.doc_id: item for item in previous.documents} if previous else {}

    items: list[IndexedDocument] = []
    blocks: list[Vectors] = []
    to_embed: list[tuple[int, list[str]]] = []
    for document in documents:
        kept = old.get(document.doc_id)
        if previous and kept and kept.document.content_hash == document.content_hash:
            items.append(IndexedDocument(document, kept.sentences, kept.windows))
            blocks.append(_stored_vectors(previous, kept))
            report.reused.append(document.doc_id)
            continue
        sentences = split_sentences(document, params)
        windows = window_spans(sentences, params.window)
        items.append(IndexedDocument(document, sentences, windows))
        blocks.append(np.zeros((0, 0), dtype=np.float32))
        to_embed.append((len(items) - 1, unit_texts(document, windows, params)))
        report.embedded.append(document.doc_id)
    report.removed = sorted(set(old) - {document.doc_id for document in documents})

    if to_embed:
        # One encode call for every new text keeps batches full and the progress bar honest.
        texts = [text for _, chunk_texts in to_embed for text in chunk_texts]
        vectors = encoder.encode(texts, show_progress=show_progress)
        cursor = 0
        for position, chunk_texts in to_embed:
            blocks[position] = vectors[cursor : cursor + len(chunk_texts)]
            cursor += len(chunk_texts)

    first_row = 0
    for item in items:
        item.first_row = first_row
        first_row += len(item.sentences)
    vector_index = faiss.IndexFlatIP(encoder.dimension)
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
        save_index(folder, index)
        report.wrote = True
    report.seconds = time.perf_counter() - started
    return index, report


def record_verifier(folder: Path, location: Path, sha256: str) -> None:
    """Note in the manifest which verifier weights judge answers from this index."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        entry = {"path": str(location), "sha256": sha256}
        if manifest.get("verifier") == entry:
            return
        manifest["verifier"] = entry
        _write_atomically(
            path, lambda temporary: temporary.write_text(json.dumps(manifest, indent=2), "utf-8")
        )
    except (OSError, ValueError, AttributeError) as error:
        # A read-only index still answers; the record is for operators, not for loading.
        log.warning("Could not record the verifier in %s: %s", path, error)
