"""Per-server corpora: one shelf and index each, loaded on demand into a bounded LRU."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from index.answering.links import ChannelLinks, channel_links
from index.answering.verifier.model import Verifier
from index.corpus.documents import Corpus, Document
from index.corpus.ingest import Prepared
from index.engine import Engine
from index.errors import IndexWriteError, LibraryError, StorageError
from index.refresh import Page, PageSchedules, Refetch
from index.results import Answer, Summary
from index.retrieval.encoder import Encoder
from index.settings import EngineSettings
from index.storage.base import StoreView, SyncReport
from index.storage.factory import SHARED_TENANT, open_shelf, open_states, open_store, open_votes
from index.storage.shelf import FEEDBACK_MAX_BYTES, LibraryEntry, Shelf, Upload, timestamp
from index.storage.state import ServerStates
from index.text.progress import ProgressListener

log = logging.getLogger(__name__)

__all__ = ["Added", "GuildEngine", "Library", "LibraryEntry"]


@dataclass(frozen=True)
class Added:
    """What adding a document did."""

    entry: LibraryEntry
    paragraphs: int
    sentences: int
    report: SyncReport


class GuildEngine(Engine):
    """An engine over a server's shelf, plus the shared corpus's documents when visible."""

    def __init__(
        self,
        settings: EngineSettings,
        encoder: Encoder,
        shared: Engine | None,
        verifier: Verifier | None = None,
        *,
        guild_id: int,
        shelf: Shelf,
    ) -> None:
        self.shared = shared
        self.shelf = shelf
        # In a shared database each server is a tenant of its own, never the shared corpus's;
        # its views read the shared tenant beside its own rather than holding copies.
        store = open_store(
            settings, encoder.model_id, tenant=str(guild_id), with_shared=shared is not None
        )
        # Message links of the channel documents, for the generation they were read for.
        self._links: tuple[int, ChannelLinks] | None = None
        # A server's documents change only through /docs, so an empty shelf is the truth.
        super().__init__(settings, encoder, store=store, verifier=verifier, prune=True)

    def _channel_links(self) -> ChannelLinks:
        """Return where the messages lie in the channel documents served now."""
        generation = self._served().backend.generation
        cached = self._links
        if cached is None or cached[0] != generation:
            cached = (generation, channel_links(self.shelf))
            self._links = cached
        return cached[1]

    def ask(self, question: str, *, max_quotes: int | None = None) -> Answer:
        """Answer as any engine does, citing a channel document's quotes by their messages."""
        return self._channel_links().answer(super().ask(question, max_quotes=max_quotes))

    def summary(
        self, *, document: str | None = None, topic: str | None = None, length: int | str = 5
    ) -> Summary:
        """Summarise as any engine does, citing a channel document's quotes by their messages."""
        found = super().summary(document=document, topic=topic, length=length)
        return self._channel_links().summary(found)

    def reusable(self, stored: StoreView) -> dict[str, Document]:
        """Return the server's own stored documents by source; the shared ones are not read."""
        if not self.store.shows_shared:
            return super().reusable(stored)
        shared = (
            {(s.document, s.source) for s in self.shared.searcher.backend.listing()}
            if self.shared is not None
            else set()
        )
        listed = stored.listing()
        return {
            entry.source: stored.documents[position].document
            for position, entry in enumerate(listed)
            if (entry.document, entry.source) not in shared
        }

    def load_documents(
        self,
        known: Mapping[str, Document] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Corpus:
        """Read the server's shelf and, for a local index, add the shared engine's documents."""
        own = self.shelf.documents(known)
        if progress is not None:
            # A shelf is read in one go (a query, or a small folder): one line says it is done.
            count = len(own.documents) + len(own.problems)
            progress(count, count)
        if self.shared is None or self.store.shows_shared:
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


def _reason(error: OSError | IndexWriteError) -> str:
    """Say what went wrong with the disk in words ("No space left on device")."""
    strerror = getattr(error, "strerror", None)
    return strerror or str(error) or type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "document"


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
        feedback_file: Path | None = None,
        feedback_max_bytes: int = FEEDBACK_MAX_BYTES,
        states: ServerStates | None = None,
    ) -> None:
        # `data_dir` holds the servers' folders on the local store; with a database it stays
        # untouched. `feedback_file` is where votes go on the local store.
        self.shared = shared
        self.data_dir = data_dir
        self.cache_size = cache_size
        self.shared_visible = shared_visible
        self.max_documents = max_documents
        self._votes = open_votes(shared.settings, feedback_file, max_bytes=feedback_max_bytes)
        # Pages added by link and fetched again, kept with the servers' other small settings.
        self.pages = PageSchedules(states or open_states(shared.settings, data_dir))
        self._engines: OrderedDict[int, Engine] = OrderedDict()
        self._pinned: dict[int, int] = {}
        self._lock = threading.Lock()
        self._guild_locks: dict[int, threading.Lock] = {}

    # -- shelves -------------------------------------------------------------------------
    def folder(self, guild_id: int) -> Path:
        """Return the server's folder on the local store: corpus/, index/ and the audit log."""
        return self.data_dir / str(int(guild_id))

    def corpus_dir(self, guild_id: int) -> Path:
        return self.folder(guild_id) / "corpus"

    def shelf(self, guild_id: int) -> Shelf:
        """Return the server's shelf: its folder, or its rows in the database."""
        return open_shelf(self.shared.settings, self.data_dir, str(int(guild_id)))

    def location(self, guild_id: int) -> str:
        """Say where the server's documents are kept (a folder, or the database), for messages."""
        return self.shelf(guild_id).location()

    def has_shelf(self, guild_id: int) -> bool:
        """Say whether the server has a place for documents yet, creating none."""
        return self.shelf(guild_id).exists()

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

    def _load(self, guild_id: int) -> GuildEngine:
        """Return the server's own engine, loading (and syncing) it under the server's lock."""
        engine = self._cached(guild_id)
        if isinstance(engine, GuildEngine):
            return engine
        settings = self.shared.settings.model_copy(
            update={
                "corpus_dir": self.corpus_dir(guild_id),
                "index_dir": self.folder(guild_id) / "index",
            }
        )
        shelf = self.shelf(guild_id)
        shelf.ready()  # clears what a crash mid-change left behind
        engine = GuildEngine(
            settings,
            self.shared.encoder,
            self.shared if self.shared_visible else None,
            self.shared.verifier,  # one verifier for every server, like the encoder
            guild_id=guild_id,
            shelf=shelf,
        )
        self._remember(guild_id, engine)
        return engine

    def open(self, guild_id: int) -> Engine:
        """Return the server's own engine, loading its index (and syncing it) if need be."""
        with self._guild_lock(guild_id):
            return self._load(guild_id)

    def engine_for(self, guild_id: int | None) -> Engine:
        """Return the engine that answers in a server (None: a DM, the shared corpus)."""
        if guild_id is None:
            return self.shared
        engine = self._cached(guild_id)
        if engine is not None:
            return engine
        if self.shared_visible and not self.shelf(guild_id).has_documents():
            return self.shared  # nothing of its own yet: no index to load or keep
        return self.open(guild_id)

    def engine_if_any(self, guild_id: int) -> Engine | None:
        """Return the engine that answers in a server without creating anything; None if none."""
        if self._cached(guild_id) is not None or self.shelf(guild_id).has_documents():
            return self.engine_for(guild_id)
        # Reading must not leave a folder (and a copy of the shared index) for every id asked.
        return self.shared if self.shared_visible else None

    @contextlib.contextmanager
    def _changing(self, guild_id: int) -> Iterator[GuildEngine]:
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
        return self.shelf(guild_id).entries()

    def add(
        self,
        guild_id: int,
        prepared: Prepared,
        *,
        added_by: str,
        source_url: str | None = None,
        progress: ProgressListener | None = None,
        page: Page | None = None,
    ) -> Added:
        """Store a prepared document on the server's shelf and re-index; undo it on failure."""
        # `page`: a page added by link that is to be fetched again on its schedule.
        with self._changing(guild_id) as engine:
            shelf = engine.shelf
            entries = shelf.entries()
            if len(entries) >= self.max_documents:
                raise LibraryError(
                    f"this server already has {len(entries)} documents, the limit; "
                    "remove one first with /docs remove"
                )
            for entry in entries:
                if entry.sha256 == prepared.sha256:
                    raise LibraryError(f"that file is already here, as “{entry.title}”")
            upload = self._upload(prepared, added_by, source_url)
            entry, document = shelf.store(upload)
            try:
                # A server's change must reach the store, or be undone: no serving from memory.
                report = engine.reindex(progress=progress, prune=True, must_save=True)
            except Exception as error:
                # Leave the shelf as it was, so the shelf and the index agree again.
                shelf.delete(entry)
                raise _indexing_failed(error) from None
            sentences = next(
                (s.sentences for s in engine.sources() if s.document == entry.doc_id), 0
            )
            self._audit(shelf, "add", added_by, entry, source_url=source_url)
            if page is not None:
                self._schedule(guild_id, entry.doc_id, page, prepared.text_sha256)
            return Added(entry, len(document.paragraphs), sentences, report)

    def _schedule(self, guild_id: int, doc_id: str, page: Page, sha256_text: str) -> None:
        """Start fetching an added page again; the document stays added if that fails."""
        try:
            self.pages.schedule(guild_id, doc_id, page, sha256_text=sha256_text)
        except Exception:  # a disk or database failure: the add itself is done and kept
            log.exception("Could not schedule %s of guild %s for re-fetching", doc_id, guild_id)

    def payload(self, guild_id: int, doc_id: str) -> tuple[LibraryEntry, bytes]:
        """Return one of the server's documents and its stored bytes; raise LibraryError if none."""
        shelf = self.shelf(guild_id)
        entry = next((e for e in shelf.entries() if e.doc_id == doc_id), None)
        if entry is None:
            raise LibraryError(f"there is no document '{doc_id}' in this server")
        return entry, shelf.payload(entry)

    def replace(
        self,
        guild_id: int,
        doc_id: str,
        prepared: Prepared,
        *,
        added_by: str,
        source_url: str | None = None,
        progress: ProgressListener | None = None,
    ) -> Added:
        """Put a new version of a document in place of the old one, with one re-index."""
        with self._changing(guild_id) as engine:
            shelf = engine.shelf
            old = next((e for e in shelf.entries() if e.doc_id == doc_id), None)
            if old is None:
                raise LibraryError(f"there is no document '{doc_id}' in this server")
            if old.sha256 == prepared.sha256:
                raise LibraryError("that version is already here")
            upload = self._upload(prepared, added_by, source_url)
            entry, report = self._swap(engine, old, upload, progress=progress)
            source = next((s for s in engine.sources() if s.document == entry.doc_id), None)
            self._audit(shelf, "replace", added_by, entry, source_url=source_url)
            paragraphs, sentences = (source.paragraphs, source.sentences) if source else (0, 0)
            return Added(entry, paragraphs, sentences, report)

    @staticmethod
    def _swap(
        engine: GuildEngine,
        old: LibraryEntry | None,
        new: Upload | LibraryEntry,
        *,
        progress: ProgressListener | None = None,
    ) -> tuple[LibraryEntry, SyncReport]:
        """Put `new` in place of `old` with one re-index, and undo every step on failure."""
        # `new` is an entry when an interrupted attempt stored it already; then it stays.
        shelf = engine.shelf
        # Hidden first: the old version's text must not be read into the new index.
        if old is not None:
            shelf.hide(old)
        try:
            entry = shelf.store(new)[0] if isinstance(new, Upload) else new
        except Exception:
            if old is not None:
                shelf.unhide(old)
            raise
        try:
            report = engine.reindex(progress=progress, prune=True, must_save=True)
        except Exception as error:
            if isinstance(new, Upload):
                shelf.delete(entry)
            if old is not None:
                shelf.unhide(old)
            raise _indexing_failed(error) from None
        if old is not None:
            shelf.delete(old)
        return entry, report

    @classmethod
    def _upload(cls, prepared: Prepared, added_by: str, source_url: str | None) -> Upload:
        """Return what the shelf stores for a prepared document, named by title and hash."""
        return Upload(
            payload=prepared.payload,
            filename=f"{cls._stem(prepared)}{prepared.suffix}",
            name=prepared.name,
            title=prepared.title,
            sha256=prepared.sha256,
            added_by=added_by,
            source_url=source_url,
        )

    @staticmethod
    def _stem(prepared: Prepared) -> str:
        """Return the stored file's name without its suffix: its title's slug and content hash."""
        return f"{_slug(prepared.title or prepared.name)}-{prepared.sha256[:8]}"

    def remove(
        self, guild_id: int, doc_id: str, *, removed_by: str, action: str = "remove"
    ) -> LibraryEntry:
        """Delete one of the server's documents and re-index."""
        # `action` names it in the audit log: "gone" when its page answered 404 or 410.
        with self._changing(guild_id) as engine:
            shelf = engine.shelf
            entry = next((e for e in shelf.entries() if e.doc_id == doc_id), None)
            if entry is None:
                raise LibraryError(f"there is no document '{doc_id}' in this server")
            shelf.hide(entry)  # kept until the new index is in place, to undo a failure
            try:
                engine.reindex(prune=True, must_save=True)
            except Exception as error:
                shelf.unhide(entry)
                raise _indexing_failed(error) from None
            shelf.delete(entry)
            self._audit(shelf, action, removed_by, entry)
            self._forget(guild_id, doc_id)
            return entry

    def _forget(self, guild_id: int, doc_id: str) -> None:
        """Stop fetching a removed document's page; a stale schedule is dropped at its fetch."""
        try:
            self.pages.forget(guild_id, doc_id)
        except Exception:  # the removal is done; the refresher drops a stale schedule itself
            log.exception("Could not unschedule %s of guild %s", doc_id, guild_id)

    def refresh(
        self,
        guild_id: int,
        doc_id: str,
        prepared: Prepared,
        fetch: Refetch,
        *,
        token: str | None,
        source_url: str | None = None,
        refreshed_by: str = "refresh",
        now: datetime | None = None,
    ) -> LibraryEntry:
        """Replace a page's document with its changed text and re-index; record it either way."""
        # `now`: when the page was fetched (by default, the time the change is made).
        try:
            with self._changing(guild_id) as engine:
                new = self._replace(engine, doc_id, prepared, source_url, refreshed_by)
        except Exception as error:
            failure = Refetch("failed", error=str(error) or type(error).__name__)
            try:
                self.pages.settle(guild_id, doc_id, failure, now or _now(), token=token)
            except Exception:  # the claim lapses instead, and the page is fetched again
                log.exception("Could not record a failed refresh of %s", doc_id)
            raise
        at = now or _now()
        self.pages.settle(guild_id, doc_id, fetch, at, token=token, new_doc_id=new.doc_id)
        return new

    def _replace(
        self,
        engine: GuildEngine,
        doc_id: str,
        prepared: Prepared,
        source_url: str | None,
        by: str,
    ) -> LibraryEntry:
        """Store the new text in place of the old, keeping its title; record both in the audit."""
        shelf = engine.shelf
        entries = shelf.entries()
        old = next((e for e in entries if e.doc_id == doc_id), None)
        # Found already: an interrupted attempt stored it, and finishing is all that is left.
        stored = next((e for e in entries if e.sha256 == prepared.sha256), None)
        new: Upload | LibraryEntry
        if stored is not None:
            new = stored
            # The old version may be gone already, or be the stored one (nothing changed).
            replaced = old if old is not None and old.doc_id != stored.doc_id else None
        elif old is not None:
            replaced = old
            new = Upload(
                payload=prepared.payload,
                filename=f"{_slug(old.title)}-{prepared.sha256[:8]}{prepared.suffix}",
                name=prepared.name,
                title=old.title,
                sha256=prepared.sha256,
                added_by=old.added_by,
                source_url=source_url or old.source_url,
            )
        else:
            raise LibraryError(f"there is no document '{doc_id}' in this server any more")
        entry, _ = self._swap(engine, replaced, new)
        if replaced is not None:
            self._audit(shelf, "refresh-replaced", by, replaced)
        self._audit(shelf, "refresh", by, entry)
        return entry

    def reindex(
        self, guild_id: int, *, requested_by: str, progress: ProgressListener | None = None
    ) -> SyncReport:
        """Re-read the server's shelf and bring its index up to date."""
        with self._changing(guild_id) as engine:
            report = engine.reindex(progress=progress, prune=True)
            self._audit(engine.shelf, "reindex", requested_by, None)
            return report

    def _audit(
        self,
        shelf: Shelf,
        action: str,
        user: str,
        entry: LibraryEntry | None,
        *,
        source_url: str | None = None,
    ) -> None:
        """Append who did what, when, to the server's audit log."""
        record = {
            "at": timestamp(),
            "guild": shelf.tenant,
            "user": user,
            "action": action,
            "document": entry.doc_id if entry else None,
            "title": entry.title if entry else None,
            "sha256": entry.sha256 if entry else None,
            "source_url": source_url or (entry.source_url if entry else None),
        }
        try:
            shelf.audit(record)
        except OSError:
            log.exception("Could not append to the audit log of guild %s", shelf.tenant)

    # -- votes ---------------------------------------------------------------------------
    def votes_location(self) -> str:
        """Say where votes are recorded (the feedback file, or the database), for messages."""
        return self._votes.location() if self._votes else "nowhere (no feedback file is set)"

    def record_vote(
        self, guild_id: int | None, answer: Answer, *, user_id: int, helpful: bool
    ) -> None:
        """Record a 👍/👎 on an answer given in a server (None: a DM); raise StorageError if not."""
        vote = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": user_id,
            "helpful": helpful,
            "question": answer.question,
            "answered": answer.answered,
            "quotes": [{"document": q.document, "paragraph": q.paragraph} for q in answer.quotes],
        }
        if self._votes is None:
            raise StorageError("votes cannot be recorded: no feedback file is set")
        tenant = SHARED_TENANT if guild_id is None else str(int(guild_id))
        try:
            self._votes.record(tenant, vote)
        except OSError as error:
            raise StorageError(f"the vote could not be saved ({_reason(error)})") from None
