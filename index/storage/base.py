"""What the engine needs from a store: rows read as windows and documents, and one writer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from index.corpus.documents import Document
from index.results import SourceInfo
from index.retrieval.backend import SearchBackend
from index.retrieval.encoder import Encoder
from index.retrieval.ranked import Rows
from index.text.windows import Sentence, paragraph_range


@runtime_checkable
class ParagraphIndexed(Protocol):
    """Sentences that find a paragraph's own faster than a binary search in Python would."""

    def paragraph_range(self, paragraph: int) -> range:
        """Return the indexes of the sentences in a paragraph."""
        ...


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
        if isinstance(self.sentences, ParagraphIndexed):
            return self.sentences.paragraph_range(paragraph)
        return paragraph_range(self.sentences, paragraph)


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


class RowPlace(NamedTuple):
    """Where a row's window lies: its document (by position and whole) and its sentence."""

    position: int
    item: IndexedDocument
    sentence: int

    @property
    def text(self) -> str:
        """Return the row's own sentence, verbatim."""
        span = self.item.sentences[self.sentence]
        return self.item.document.text[span.start : span.end]


def listed(item: IndexedDocument) -> SourceInfo:
    """Return how lists show an indexed document: what names and counts it, not its text."""
    document = item.document
    return SourceInfo(
        document=document.doc_id,
        title=document.title,
        source=document.source,
        paragraphs=len(document.paragraphs),
        sentences=len(item.sentences),
        source_url=document.source_url,
        date=document.date,
    )


class StoreView(SearchBackend, Protocol):
    """One generation of a store, read only: search by row, rows to windows, the documents."""

    @property
    def generation(self) -> int:
        """Return the number of the generation this view reads (it grows with each commit)."""
        ...

    @property
    def documents(self) -> Sequence[IndexedDocument]:
        """Return the documents in row order."""
        ...

    def listing(self) -> Sequence[SourceInfo]:
        """Return the documents as lists show them, in row order, without reading their text."""
        ...

    def place(self, row: int) -> RowPlace:
        """Return the document and sentence of one row."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return what benchmarks and operators report of the store (its kind, its indexes)."""
        ...

    def document_positions(self, rows: Rows) -> NDArray[np.int32]:
        """Return each row's document position."""
        ...

    def sentence_positions(self, rows: Rows) -> NDArray[np.int32]:
        """Return each row's sentence index within its document."""
        ...

    def read_ahead(self, positions: Sequence[int]) -> None:
        """Read the documents at these positions now, in one ask where each read is a trip."""
        ...


class TextCache(ABC):
    """Texts derived from documents (who spoke with whom), each under a document and its hash."""

    @abstractmethod
    def read(self, doc_id: str, content_hash: str) -> str | None:
        """Return the text cached for this version of a document, or None."""

    @abstractmethod
    def write(self, doc_id: str, content_hash: str, text: str) -> None:
        """Cache a text for this version of a document; raise OSError if it cannot be kept."""

    @abstractmethod
    def retain(self, wanted: Collection[tuple[str, str]]) -> None:
        """Drop what is cached for any (document, hash) not wanted, at best effort."""


class Store(ABC):
    """A server's windows, vectors and postings, changed by one writer at a time."""

    # Whether this store's views also show the shared corpus's documents, read from the shared
    # tenant itself: a server's engine then syncs only its own documents into it.
    shows_shared: bool = False

    @property
    @abstractmethod
    def relations_cache(self) -> Path | TextCache:
        """Return where who-spoke-with-whom is cached: a folder, or the store's own cache."""

    @abstractmethod
    def latest_generation(self) -> int | None:
        """Return the newest committed generation, cheaply; None when only this process writes."""

    @abstractmethod
    def view(self) -> StoreView | None:
        """Return the stored generation, or None when there is none or it cannot be read."""

    @abstractmethod
    def sync(
        self,
        documents: list[Document],
        encoder: Encoder,
        *,
        prune: bool = False,
        must_save: bool = False,
        show_progress: bool = False,
        current: StoreView | None = None,
    ) -> tuple[StoreView, SyncReport]:
        """Make the documents the next generation, embedding only what changed."""
        # `current`: the view just read from this store by the caller, so it is not read twice.
        # A failed write is reported in `SyncReport.save_error`, and raises with `must_save`.

    @abstractmethod
    def recorded_model(self) -> str | None:
        """Return the model id the stored vectors were made with, cheaply; None if none."""

    @abstractmethod
    def note_verifier(self, location: Path, sha256: str) -> None:
        """Record which verifier weights judge answers from this store, at best effort."""

    def upsert(
        self, document: Document, encoder: Encoder, *, must_save: bool = True
    ) -> tuple[StoreView, SyncReport]:
        """Add a document, or replace the one with its id, as one unit."""
        current = self.view()
        documents = [item.document for item in current.documents] if current else []
        ids = [existing.doc_id for existing in documents]
        if document.doc_id in ids:
            documents[ids.index(document.doc_id)] = document
        else:
            documents.append(document)
        return self.sync(documents, encoder, prune=True, must_save=must_save, current=current)

    def remove(
        self, doc_id: str, encoder: Encoder, *, must_save: bool = True
    ) -> tuple[StoreView, SyncReport]:
        """Remove one document, as one unit; an unknown id changes nothing."""
        current = self.view()
        documents = [item.document for item in current.documents] if current else []
        kept = [document for document in documents if document.doc_id != doc_id]
        return self.sync(kept, encoder, prune=True, must_save=must_save, current=current)
