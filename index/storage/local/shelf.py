"""A server's shelf on files: corpus/ with NAME.meta.json beside each document, and audit.jsonl."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from index.corpus.documents import (
    METADATA_SUFFIX,
    SUPPORTED_SUFFIXES,
    Corpus,
    Document,
    document_id,
    load_corpus,
    read_document,
)
from index.errors import LibraryError, StorageError
from index.storage.shelf import LibraryEntry, Shelf, Upload, entry_title, timestamp

log = logging.getLogger(__name__)
AUDIT_LOG = "audit.jsonl"


def reason(error: OSError) -> str:
    """Say what went wrong with the disk in words ("No space left on device")."""
    return error.strerror or str(error) or type(error).__name__


def write_file(path: Path, data: bytes) -> None:
    """Write bytes to a hidden temporary beside `path` and rename it there (atomic, fsynced)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class LocalShelf(Shelf):
    """A server's folder: corpus/ holds its documents, audit.jsonl what was done to them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tenant = folder.name
        self.corpus = folder / "corpus"

    def location(self) -> str:
        return str(self.corpus)

    def exists(self) -> bool:
        return self.corpus.is_dir()

    def _files(self) -> list[Path]:
        if not self.corpus.is_dir():
            return []
        return sorted(
            p
            for p in self.corpus.iterdir()
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
        )

    def has_documents(self) -> bool:
        return bool(self._files())

    def ready(self) -> None:
        """Create the folder, and delete hidden staged, temporary and removed files in it."""
        self.corpus.mkdir(parents=True, exist_ok=True)
        documents = {path.stem for path in self._files()}
        for leftover in self.corpus.iterdir():
            name = leftover.name
            hidden = name.startswith(".") and (
                name.endswith((".tmp", ".removed")) or ".staged." in name
            )
            # A metadata file is written just before its document: alone, it is a crash's.
            orphan = name.endswith(METADATA_SUFFIX) and (
                name.removesuffix(METADATA_SUFFIX) not in documents
            )
            if hidden or orphan:
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def entries(self) -> list[LibraryEntry]:
        found = []
        for path in self._files():
            meta: dict[str, Any] = {}
            sidecar = path.with_name(path.stem + METADATA_SUFFIX)
            with contextlib.suppress(OSError, ValueError):
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            found.append(
                LibraryEntry(
                    doc_id=document_id(path.relative_to(self.corpus)),
                    title=str(meta.get("title") or path.stem),
                    filename=path.name,
                    added_by=str(meta.get("added_by") or "?"),
                    added_at=str(meta.get("added_at") or ""),
                    sha256=str(meta.get("sha256") or ""),
                    source_url=meta.get("source_url"),
                )
            )
        return sorted(found, key=lambda entry: (entry.added_at, entry.doc_id))

    def documents(self, known: Mapping[str, Document] | None = None) -> Corpus:
        return load_corpus(self.corpus, known)

    def store(self, upload: Upload) -> tuple[LibraryEntry, Document]:
        path = self.corpus / upload.filename
        stem = path.stem
        sidecar = path.with_name(stem + METADATA_SUFFIX)
        # Hidden while staged: the corpus loader skips dot-files, so a crash leaves no trace.
        staged = path.with_name(f".{stem}.staged{path.suffix}")
        try:
            write_file(staged, upload.payload)
            document = read_document(staged, document_id(Path(path.name)), path.name)
            meta = {
                "title": entry_title(upload, document, staged),
                "source_url": upload.source_url,
                "added_by": upload.added_by,
                "added_at": timestamp(),
                "sha256": upload.sha256,
            }
            write_file(sidecar, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
            os.replace(staged, path)
        except OSError as error:
            for leftover in (staged, sidecar, path):
                leftover.unlink(missing_ok=True)
            raise StorageError(
                f"the file could not be stored ({reason(error)}); "
                "the documents and index are as they were"
            ) from None
        except ValueError as error:
            for leftover in (staged, sidecar):
                leftover.unlink(missing_ok=True)
            raise LibraryError(f"it cannot be read ({error})") from None
        entry = LibraryEntry(
            doc_id=document_id(Path(path.name)),
            title=str(meta["title"] or stem),
            filename=path.name,
            added_by=upload.added_by,
            added_at=str(meta["added_at"]),
            sha256=upload.sha256,
            source_url=upload.source_url,
        )
        return entry, document

    def _removed(self, entry: LibraryEntry) -> Path:
        return self.corpus / f".{entry.filename}.removed"

    def hide(self, entry: LibraryEntry) -> None:
        # Kept until the new index is in place, to undo a failure; a crash's is swept on load.
        os.replace(self.corpus / entry.filename, self._removed(entry))

    def unhide(self, entry: LibraryEntry) -> None:
        os.replace(self._removed(entry), self.corpus / entry.filename)

    def payload(self, entry: LibraryEntry) -> bytes:
        try:
            return (self.corpus / entry.filename).read_bytes()
        except OSError as error:
            raise LibraryError(f"'{entry.doc_id}' cannot be read ({reason(error)})") from None

    def delete(self, entry: LibraryEntry) -> None:
        path = self.corpus / entry.filename
        for leftover in (self._removed(entry), path, path.with_name(path.stem + METADATA_SUFFIX)):
            leftover.unlink(missing_ok=True)

    def audit(self, record: Mapping[str, Any]) -> None:
        with (self.folder / AUDIT_LOG).open("a", encoding="utf-8") as log_file:
            log_file.write(json.dumps(dict(record), ensure_ascii=False) + "\n")
