"""A server's shelf: the files it uploaded, who added each and when, and its audit log; votes."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from index.corpus.documents import Corpus, Document

# Where the local feedback file moves to NAME.1 (DISCORD_FEEDBACK_MAX_BYTES's default).
FEEDBACK_MAX_BYTES = 10 * 1024 * 1024


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
class Upload:
    """A document to put on a shelf: its bytes, the name it is stored as, and its metadata."""

    payload: bytes
    filename: str  # e.g. "tea-guide-1a2b3c4d.txt", the same on every store
    name: str  # the name it was sent with, which titles it when nothing else does
    title: str | None  # the title the sender gave, if any
    sha256: str
    added_by: str
    source_url: str | None


def timestamp() -> str:
    """Return the UTC time, to the microsecond so that entries sort in the order they came."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def title_of(path: PurePath) -> str:
    """Title a file from its name, the way the corpus loader does when nothing else says."""
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def entry_title(upload: Upload, document: Document, read_as: PurePath) -> str:
    """Return an upload's title: the given one, else the content's (a heading), else the name's."""
    # The document was read as the file `read_as`; a title equal to that name's came from it.
    named = document.title == title_of(read_as)
    return upload.title or (title_of(PurePath(upload.name)) if named else document.title)


class Shelf(ABC):
    """One server's uploaded documents and its audit log, on one store."""

    tenant: str  # the server's id, which every record of it carries

    @abstractmethod
    def location(self) -> str:
        """Return where the documents are kept, for messages (a folder, or the database)."""

    @abstractmethod
    def exists(self) -> bool:
        """Say whether the server has a place for documents yet, without creating one."""

    @abstractmethod
    def ready(self) -> None:
        """Make the shelf ready for changes, clearing what a crash mid-change left."""

    @abstractmethod
    def entries(self) -> list[LibraryEntry]:
        """List the documents on the shelf, oldest first."""

    def has_documents(self) -> bool:
        """Say whether the shelf holds any document, as cheaply as the store allows."""
        return bool(self.entries())

    @abstractmethod
    def documents(self, known: Mapping[str, Document] | None = None) -> Corpus:
        """Read the documents to index; one unchanged since `known` read it is taken from there."""
        # `known` maps a document's source to the document read from it before, signature and
        # all: an unchanged upload is never read again.

    @abstractmethod
    def store(self, upload: Upload) -> tuple[LibraryEntry, Document]:
        """Put an upload on the shelf as one unit; raise LibraryError or StorageError if not."""

    @abstractmethod
    def payload(self, entry: LibraryEntry) -> bytes:
        """Return a stored document's bytes as they were stored; raise LibraryError if gone."""

    @abstractmethod
    def hide(self, entry: LibraryEntry) -> None:
        """Take a document out of what `documents` reads, keeping it until `delete` or `unhide`."""

    @abstractmethod
    def unhide(self, entry: LibraryEntry) -> None:
        """Put a hidden document back, as it was."""

    @abstractmethod
    def delete(self, entry: LibraryEntry) -> None:
        """Delete a document, hidden or not, for good."""

    @abstractmethod
    def audit(self, record: Mapping[str, Any]) -> None:
        """Append who did what, when, to the server's audit log; raise OSError if it fails."""


class VoteLog(ABC):
    """Where 👍/👎 on answers are recorded, with the server (the tenant) they were given in."""

    @abstractmethod
    def location(self) -> str:
        """Return where votes go, for messages (never a secret)."""

    @abstractmethod
    def record(self, tenant: str, vote: Mapping[str, Any]) -> None:
        """Store one vote; raise OSError (or StorageError) when it cannot be stored."""
