"""A server's shelf, its votes and its relations cache in PostgreSQL, every row under its tenant."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from index.corpus.documents import (
    READER_VERSION,
    Corpus,
    CorpusProblem,
    Document,
    document_id,
    parse_document,
)
from index.errors import LibraryError, StorageError
from index.storage.base import TextCache
from index.storage.shelf import LibraryEntry, Shelf, Upload, VoteLog, entry_title

log = logging.getLogger(__name__)
# A removal hides its upload while the index is rewritten; one hidden for longer was a crash's.
HIDDEN_GRACE = "1 hour"
_ENTRY = "SELECT doc_id, title, filename, added_by, added_at, sha256, source_url FROM uploads"


def describe(error: Exception) -> str:
    """Return a database error's first line, without a traceback or the connection string."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


def _stamp(moment: datetime) -> str:
    """Write a stored time as the local store's sidecars do (UTC, to the microsecond)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _signature(sha256: str, title: str, source_url: str | None) -> str:
    """Return what changes whenever an upload's bytes or metadata do, as a file's signature."""
    fields = json.dumps([title, source_url], ensure_ascii=False).encode("utf-8")
    return f"{READER_VERSION}|upload:{sha256}|{hashlib.sha256(fields).hexdigest()[:16]}"


class PostgresShelf(Shelf):
    """A server's uploads, kept whole (bytea), and its audit log, in the database."""

    def __init__(self, pool: ConnectionPool[Any], tenant: str) -> None:
        self.pool, self.tenant = pool, tenant

    def location(self) -> str:
        return "the database"

    def exists(self) -> bool:
        return self.has_documents()

    def ready(self) -> None:
        try:
            with self.pool.connection() as connection:
                connection.execute(
                    "DELETE FROM uploads WHERE tenant = %s "
                    f"AND hidden_since < now() - interval '{HIDDEN_GRACE}'",
                    (self.tenant,),
                )
        except psycopg.Error as error:
            log.warning("Could not tidy the uploads of %s: %s", self.tenant, describe(error))

    def _entry(self, row: tuple[Any, ...]) -> LibraryEntry:
        doc_id, title, filename, added_by, added_at, sha256, source_url = row
        return LibraryEntry(doc_id, title, filename, added_by, _stamp(added_at), sha256, source_url)

    def entries(self) -> list[LibraryEntry]:
        with self.pool.connection() as connection:
            rows = connection.execute(
                f"{_ENTRY} WHERE tenant = %s AND hidden_since IS NULL ORDER BY added_at, doc_id",
                (self.tenant,),
            ).fetchall()
        return [self._entry(row) for row in rows]

    def has_documents(self) -> bool:
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT EXISTS (SELECT 1 FROM uploads WHERE tenant = %s AND hidden_since IS NULL)",
                (self.tenant,),
            ).fetchone()
        return bool(row and row[0])

    def documents(self, known: Mapping[str, Document] | None = None) -> Corpus:
        """Read the uploads in filename order, as the folder is read; only changed ones parsed."""
        with self.pool.connection() as connection:
            listed = connection.execute(
                "SELECT doc_id, filename, title, source_url, sha256 FROM uploads "
                "WHERE tenant = %s AND hidden_since IS NULL ORDER BY filename",
                (self.tenant,),
            ).fetchall()
            documents: list[Document] = []
            problems: list[CorpusProblem] = []
            for doc_id, filename, title, source_url, sha256 in listed:
                signature = _signature(sha256, title, source_url)
                before = (known or {}).get(filename)
                if before is not None and before.signature == signature and before.doc_id == doc_id:
                    documents.append(before)
                    continue
                row = connection.execute(
                    "SELECT payload FROM uploads WHERE tenant = %s AND doc_id = %s",
                    (self.tenant, doc_id),
                ).fetchone()
                if row is None:
                    continue  # removed meanwhile by another process
                metadata = {"title": title, "source_url": source_url}
                try:
                    read = parse_document(bytes(row[0]), filename, doc_id, filename, metadata)
                except ValueError as error:
                    problems.append(CorpusProblem(filename, str(error)))
                    continue
                documents.append(replace(read, signature=signature))
        return Corpus(documents, problems)

    def store(self, upload: Upload) -> tuple[LibraryEntry, Document]:
        doc_id = document_id(Path(upload.filename))
        try:
            document = parse_document(upload.payload, upload.filename, doc_id, upload.filename, {})
        except ValueError as error:
            raise LibraryError(f"it cannot be read ({error})") from None
        title = entry_title(upload, document, PurePosixPath(upload.filename))
        try:
            with self.pool.connection() as connection, connection.transaction():
                # A copy hidden by a removal that crashed is gone for good: sent again, it is new.
                connection.execute(
                    "DELETE FROM uploads WHERE tenant = %s AND hidden_since IS NOT NULL "
                    "AND (doc_id = %s OR sha256 = %s)",
                    (self.tenant, doc_id, upload.sha256),
                )
                row = connection.execute(
                    "INSERT INTO uploads (tenant, doc_id, filename, title, source_url, added_by, "
                    "added_at, sha256, payload) VALUES (%s, %s, %s, %s, %s, %s, "
                    "clock_timestamp(), %s, %s) RETURNING added_at",
                    (
                        self.tenant,
                        doc_id,
                        upload.filename,
                        title,
                        upload.source_url,
                        upload.added_by,
                        upload.sha256,
                        upload.payload,
                    ),
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise LibraryError("that file is already here") from None
        except psycopg.Error as error:
            raise StorageError(
                f"the file could not be stored (cannot write to the database: {describe(error)}); "
                "the documents and index are as they were"
            ) from None
        added_at = _stamp(row[0]) if row else ""
        entry = LibraryEntry(
            doc_id,
            title,
            upload.filename,
            upload.added_by,
            added_at,
            upload.sha256,
            upload.source_url,
        )
        return entry, document

    def put(self, entry: LibraryEntry, payload: bytes) -> bool:
        """Store a document copied from another store as it was; False if it is already here."""
        with self.pool.connection() as connection:
            row = connection.execute(
                "INSERT INTO uploads (tenant, doc_id, filename, title, source_url, added_by, "
                "added_at, sha256, payload) VALUES (%s, %s, %s, %s, %s, %s, "
                "coalesce(%s::timestamptz, now()), %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (
                    self.tenant,
                    entry.doc_id,
                    entry.filename,
                    entry.title,
                    entry.source_url,
                    entry.added_by,
                    entry.added_at or None,
                    entry.sha256,
                    payload,
                ),
            ).fetchone()
        return row is not None

    def audited(self) -> int:
        """Return how many audit records the server has."""
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT count(*) FROM audit WHERE tenant = %s", (self.tenant,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _set_hidden(self, entry: LibraryEntry, hidden: bool) -> None:
        with self.pool.connection() as connection:
            connection.execute(
                "UPDATE uploads SET hidden_since = CASE WHEN %s THEN now() END "
                "WHERE tenant = %s AND doc_id = %s",
                (hidden, self.tenant, entry.doc_id),
            )

    def hide(self, entry: LibraryEntry) -> None:
        self._set_hidden(entry, True)

    def unhide(self, entry: LibraryEntry) -> None:
        self._set_hidden(entry, False)

    def payload(self, entry: LibraryEntry) -> bytes:
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT payload FROM uploads WHERE tenant = %s AND doc_id = %s",
                (self.tenant, entry.doc_id),
            ).fetchone()
        if row is None:
            raise LibraryError(f"there is no document '{entry.doc_id}' in this server")
        return bytes(row[0])

    def delete(self, entry: LibraryEntry) -> None:
        with self.pool.connection() as connection:
            connection.execute(
                "DELETE FROM uploads WHERE tenant = %s AND doc_id = %s",
                (self.tenant, entry.doc_id),
            )

    def audit(self, record: Mapping[str, Any]) -> None:
        try:
            with self.pool.connection() as connection:
                connection.execute(
                    "INSERT INTO audit (tenant, at, user_name, action, doc_id, title, sha256, "
                    "source_url) VALUES (%s, %s::timestamptz, %s, %s, %s, %s, %s, %s)",
                    (
                        self.tenant,
                        record["at"],
                        record["user"],
                        record["action"],
                        record.get("document"),
                        record.get("title"),
                        record.get("sha256"),
                        record.get("source_url"),
                    ),
                )
        except psycopg.Error as error:
            raise OSError(f"cannot write to the database ({describe(error)})") from None


class PostgresVotes(VoteLog):
    """Votes in the votes table, each under the server it was given in ("shared": a DM)."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def location(self) -> str:
        return "the database's votes table"

    def record(self, tenant: str, vote: Mapping[str, Any]) -> None:
        try:
            with self.pool.connection() as connection:
                connection.execute(
                    "INSERT INTO votes (tenant, at, user_id, helpful, question, answered, quotes) "
                    "VALUES (%s, %s::timestamptz, %s, %s, %s, %s, %s)",
                    (
                        tenant,
                        vote["time"],
                        str(vote["user"]),
                        bool(vote["helpful"]),
                        vote["question"],
                        bool(vote["answered"]),
                        Jsonb(vote["quotes"]),
                    ),
                )
        except psycopg.Error as error:
            raise OSError(f"cannot write to the database ({describe(error)})") from None


class PostgresRelationsCache(TextCache):
    """Each document's extraction, under the tenant and the document's id and content hash."""

    def __init__(self, pool: ConnectionPool[Any], tenant: str, readable: Collection[str]) -> None:
        # `readable`: the tenants whose extractions may serve (this one, and the shared corpus
        # when a server sees it); only this tenant's are written and dropped.
        self.pool, self.tenant = pool, tenant
        self.readable = list(dict.fromkeys([tenant, *readable]))

    def read(self, doc_id: str, content_hash: str) -> str | None:
        try:
            with self.pool.connection() as connection:
                row = connection.execute(
                    "SELECT extraction::text FROM relations_cache WHERE tenant = ANY(%s) "
                    "AND doc_id = %s AND content_hash = %s ORDER BY tenant = %s DESC LIMIT 1",
                    (self.readable, doc_id, content_hash, self.tenant),
                ).fetchone()
        except psycopg.Error as error:
            log.warning("Cannot read the relations cache: %s", describe(error))
            return None
        return str(row[0]) if row else None

    def write(self, doc_id: str, content_hash: str, text: str) -> None:
        try:
            with self.pool.connection() as connection:
                connection.execute(
                    "INSERT INTO relations_cache (tenant, doc_id, content_hash, extraction) "
                    "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (tenant, doc_id, content_hash) "
                    "DO UPDATE SET extraction = EXCLUDED.extraction",
                    (self.tenant, doc_id, content_hash, text),
                )
        except psycopg.Error as error:
            raise OSError(f"cannot write to the database ({describe(error)})") from None

    def retain(self, wanted: Collection[tuple[str, str]]) -> None:
        ids = [doc_id for doc_id, _ in wanted]
        hashes = [content_hash for _, content_hash in wanted]
        try:
            with self.pool.connection() as connection:
                connection.execute(
                    "DELETE FROM relations_cache AS c WHERE c.tenant = %s AND NOT EXISTS ("
                    "SELECT 1 FROM unnest(%s::text[], %s::text[]) AS w(doc_id, content_hash) "
                    "WHERE w.doc_id = c.doc_id AND w.content_hash = c.content_hash)",
                    (self.tenant, ids, hashes),
                )
        except psycopg.Error as error:
            log.warning("Cannot tidy the relations cache: %s", describe(error))
