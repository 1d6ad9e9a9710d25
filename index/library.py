"""Per-server corpora: one folder and index each, loaded on demand into a bounded LRU."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.answering.verifier.model import Verifier
from index.corpus.documents import (
    METADATA_SUFFIX,
    SUPPORTED_SUFFIXES,
    Corpus,
    Document,
    document_id,
    read_document,
)
from index.corpus.ingest import Prepared
from index.engine import Engine
from index.errors import IndexWriteError, LibraryError, StorageError
from index.retrieval.encoder import Encoder
from index.settings import EngineSettings
from index.storage.base import SyncReport
from index.storage.factory import open_store
from index.text.progress import ProgressListener

log = logging.getLogger(__name__)
AUDIT_LOG = "audit.jsonl"


@dataclass(frozen=True)
class LibraryEntry:
    """One document a server added, with who added it and when."""

    doc_id: str
    title: str
    filename: str
    added_by: str
    added_at: str
    sha256: str
    source_url: str | None


@dataclass(frozen=True)
class Added:
    """What adding a document did."""

    entry: LibraryEntry
    paragraphs: int
    sentences: int
    report: SyncReport


class GuildEngine(Engine):
    """An engine over a server's folder, plus the shared corpus's documents when visible."""

    def __init__(
        self,
        settings: EngineSettings,
        encoder: Encoder,
        shared: Engine | None,
        verifier: Verifier | None = None,
        *,
        guild_id: int,
    ) -> None:
        self.shared = shared
        # In a shared database each server is a tenant of its own, never the shared corpus's.
        store = open_store(settings, encoder.model_id, tenant=str(guild_id))
        # A server's documents change only through /docs, so an empty folder is the truth.
        super().__init__(settings, encoder, store=store, verifier=verifier, prune=True)

    def load_documents(
        self,
        known: Mapping[str, Document] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Corpus:
        """Read the server's folder and add the shared engine's documents, already parsed."""
        own = super().load_documents(known, progress)
        if self.shared is None:
            return own
        shared = [item.document for item in self.shared.searcher.backend.documents]
        return Corpus(shared + own.documents, own.problems)


def _indexing_failed(error: Exception) -> Exception:
    """Name a disk failure in words once the change is undone; pass anything else on."""
    if isinstance(error, OSError | IndexWriteError):
        return StorageError(
            f"indexing failed ({_reason(error)}); the documents and index are as they were"
        )
    return error


def _now() -> str:
    """Return the UTC time, to the microsecond so that entries sort in the order they came."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reason(error: OSError | IndexWriteError) -> str:
    """Say what went wrong with the disk in words ("No space left on device")."""
    strerror = getattr(error, "strerror", None)
    return strerror or str(error) or type(error).__name__


def _title_of(path: Path) -> str:
    """Title a file from its name, the way the corpus loader does when nothing else says."""
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "document"


def _write_file(path: Path, data: bytes) -> None:
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


class Library:
    """The shared engine plus one engine per server, sharing one encoder."""

    def __init__(
        self,
        shared: Engine,
        data_dir: Path,
        *,
        cache_size: int = 8,
        shared_visible: bool = True,
        max_documents: int = 200,
    ) -> None:
        self.shared = shared
        self.data_dir = data_dir
        self.cache_size = cache_size
        self.shared_visible = shared_visible
        self.max_documents = max_documents
        self._engines: OrderedDict[int, Engine] = OrderedDict()
        self._pinned: dict[int, int] = {}
        self._lock = threading.Lock()
        self._guild_locks: dict[int, threading.Lock] = {}

    # -- folders -------------------------------------------------------------------------
    def folder(self, guild_id: int) -> Path:
        """Return the server's folder: corpus/, index/ and the audit log live there."""
        return self.data_dir / str(int(guild_id))

    def corpus_dir(self, guild_id: int) -> Path:
        return self.folder(guild_id) / "corpus"

    def _files(self, guild_id: int) -> list[Path]:
        folder = self.corpus_dir(guild_id)
        if not folder.is_dir():
            return []
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
        )

    # -- engines -------------------------------------------------------------------------
    def _guild_lock(self, guild_id: int) -> threading.Lock:
        with self._lock:
            return self._guild_locks.setdefault(guild_id, threading.Lock())

    def loaded(self) -> list[int]:
        """Return the servers whose engines are in memory, least recently used first."""
        with self._lock:
            return list(self._engines)

    def _cached(self, guild_id: int) -> Engine | None:
        with self._lock:
            engine = self._engines.get(guild_id)
            if engine is not None:
                self._engines.move_to_end(guild_id)
            return engine

    def _remember(self, guild_id: int, engine: Engine) -> None:
        with self._lock:
            self._engines[guild_id] = engine
            self._engines.move_to_end(guild_id)
            for old in list(self._engines):
                if len(self._engines) <= self.cache_size:
                    break
                if not self._pinned.get(old):  # never drop an engine that is being re-indexed
                    del self._engines[old]

    def _load(self, guild_id: int) -> Engine:
        """Return the server's own engine, loading (and syncing) it under the server's lock."""
        engine = self._cached(guild_id)
        if engine is not None:
            return engine
        settings = self.shared.settings.model_copy(
            update={
                "corpus_dir": self.corpus_dir(guild_id),
                "index_dir": self.folder(guild_id) / "index",
            }
        )
        self.corpus_dir(guild_id).mkdir(parents=True, exist_ok=True)
        self._sweep(guild_id)
        engine = GuildEngine(
            settings,
            self.shared.encoder,
            self.shared if self.shared_visible else None,
            self.shared.verifier,  # one verifier for every server, like the encoder
            guild_id=guild_id,
        )
        self._remember(guild_id, engine)
        return engine

    def open(self, guild_id: int) -> Engine:
        """Return the server's own engine, loading its index (and syncing it) if need be."""
        with self._guild_lock(guild_id):
            return self._load(guild_id)

    def _sweep(self, guild_id: int) -> None:
        """Delete what a crash mid-change left behind: hidden staged, temporary, removed files."""
        folder = self.corpus_dir(guild_id)
        documents = {path.stem for path in self._files(guild_id)}
        for leftover in folder.iterdir():
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

    def engine_for(self, guild_id: int | None) -> Engine:
        """Return the engine that answers in a server (None: a DM, the shared corpus)."""
        if guild_id is None:
            return self.shared
        engine = self._cached(guild_id)
        if engine is not None:
            return engine
        if self.shared_visible and not self._files(guild_id):
            return self.shared  # nothing of its own yet: no index to load or keep
        return self.open(guild_id)

    def engine_if_any(self, guild_id: int) -> Engine | None:
        """Return the engine that answers in a server without creating anything; None if none."""
        if self._cached(guild_id) is not None or self._files(guild_id):
            return self.engine_for(guild_id)
        # Reading must not leave a folder (and a copy of the shared index) for every id asked.
        return self.shared if self.shared_visible else None

    @contextlib.contextmanager
    def _changing(self, guild_id: int) -> Iterator[Engine]:
        """Hold the server's lock with its engine loaded and pinned in the cache."""
        with self._guild_lock(guild_id):
            engine = self._load(guild_id)
            with self._lock:
                self._pinned[guild_id] = self._pinned.get(guild_id, 0) + 1
            try:
                yield engine
            finally:
                with self._lock:
                    self._pinned[guild_id] -= 1

    # -- documents -----------------------------------------------------------------------
    def entries(self, guild_id: int) -> list[LibraryEntry]:
        """List the documents the server added, oldest first."""
        found = []
        for path in self._files(guild_id):
            meta: dict[str, Any] = {}
            sidecar = path.with_name(path.stem + METADATA_SUFFIX)
            with contextlib.suppress(OSError, ValueError):
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            found.append(
                LibraryEntry(
                    doc_id=document_id(path.relative_to(self.corpus_dir(guild_id))),
                    title=str(meta.get("title") or path.stem),
                    filename=path.name,
                    added_by=str(meta.get("added_by") or "?"),
                    added_at=str(meta.get("added_at") or ""),
                    sha256=str(meta.get("sha256") or ""),
                    source_url=meta.get("source_url"),
                )
            )
        return sorted(found, key=lambda entry: (entry.added_at, entry.doc_id))

    def add(
        self,
        guild_id: int,
        prepared: Prepared,
        *,
        added_by: str,
        source_url: str | None = None,
        progress: ProgressListener | None = None,
    ) -> Added:
        """Store a prepared document in the server's folder and re-index; undo it on failure."""
        with self._changing(guild_id) as engine:
            entries = self.entries(guild_id)
            if len(entries) >= self.max_documents:
                raise LibraryError(
                    f"this server already has {len(entries)} documents, the limit; "
                    "remove one first with /docs remove"
                )
            for entry in entries:
                if entry.sha256 == prepared.sha256:
                    raise LibraryError(f"that file is already here, as “{entry.title}”")
            stem = f"{_slug(prepared.title or prepared.name)}-{prepared.sha256[:8]}"
            path = self.corpus_dir(guild_id) / f"{stem}{prepared.suffix}"
            sidecar = path.with_name(stem + METADATA_SUFFIX)
            # Hidden while staged: the corpus loader skips dot-files, so a crash leaves no trace.
            staged = path.with_name(f".{stem}.staged{prepared.suffix}")
            try:
                _write_file(staged, prepared.payload)
                document = read_document(staged, document_id(Path(path.name)), path.name)
                # A title the content carries (a Markdown heading, PDF metadata), else the name's.
                named = document.title == _title_of(staged)
                meta = {
                    "title": prepared.title
                    or (_title_of(Path(prepared.name)) if named else document.title),
                    "source_url": source_url,
                    "added_by": added_by,
                    "added_at": _now(),
                    "sha256": prepared.sha256,
                }
                _write_file(sidecar, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
                os.replace(staged, path)
            except OSError as error:
                for leftover in (staged, sidecar, path):
                    leftover.unlink(missing_ok=True)
                raise StorageError(
                    f"the file could not be stored ({_reason(error)}); "
                    "the documents and index are as they were"
                ) from None
            except ValueError as error:
                for leftover in (staged, sidecar):
                    leftover.unlink(missing_ok=True)
                raise LibraryError(f"it cannot be read ({error})") from None
            try:
                # A server's change must reach the disk, or be undone: no serving from memory.
                report = engine.reindex(progress=progress, prune=True, must_save=True)
            except Exception as error:
                # Leave the folder as it was, so the folder and the index agree again.
                path.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                raise _indexing_failed(error) from None
            entry = next(e for e in self.entries(guild_id) if e.filename == path.name)
            sentences = next(
                (s.sentences for s in engine.sources() if s.document == entry.doc_id), 0
            )
            self._audit(guild_id, "add", added_by, entry, source_url=source_url)
            return Added(entry, len(document.paragraphs), sentences, report)

    def remove(self, guild_id: int, doc_id: str, *, removed_by: str) -> LibraryEntry:
        """Delete one of the server's documents and re-index."""
        with self._changing(guild_id) as engine:
            entry = next((e for e in self.entries(guild_id) if e.doc_id == doc_id), None)
            if entry is None:
                raise LibraryError(f"there is no document '{doc_id}' in this server")
            path = self.corpus_dir(guild_id) / entry.filename
            moved = path.with_name(f".{path.name}.removed")
            os.replace(path, moved)  # kept until the new index is in place, to undo a failure
            try:
                engine.reindex(prune=True, must_save=True)
            except Exception as error:
                os.replace(moved, path)
                raise _indexing_failed(error) from None
            moved.unlink(missing_ok=True)
            path.with_name(path.stem + METADATA_SUFFIX).unlink(missing_ok=True)
            self._audit(guild_id, "remove", removed_by, entry)
            return entry

    def reindex(
        self, guild_id: int, *, requested_by: str, progress: ProgressListener | None = None
    ) -> SyncReport:
        """Re-read the server's folder and bring its index up to date."""
        with self._changing(guild_id) as engine:
            report = engine.reindex(progress=progress, prune=True)
            self._audit(guild_id, "reindex", requested_by, None)
            return report

    def _audit(
        self,
        guild_id: int,
        action: str,
        user: str,
        entry: LibraryEntry | None,
        *,
        source_url: str | None = None,
    ) -> None:
        """Append who did what, when, to the server's audit log (one JSON object a line)."""
        record = {
            "at": _now(),
            "guild": str(guild_id),
            "user": user,
            "action": action,
            "document": entry.doc_id if entry else None,
            "title": entry.title if entry else None,
            "sha256": entry.sha256 if entry else None,
            "source_url": source_url or (entry.source_url if entry else None),
        }
        try:
            with (self.folder(guild_id) / AUDIT_LOG).open("a", encoding="utf-8") as log_file:
                log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            log.exception("Could not append to the audit log of guild %s", guild_id)
