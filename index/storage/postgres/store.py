"""The Postgres store: each document written or removed in one transaction, one writer a tenant."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from index.corpus.documents import Document
from index.errors import IndexWriteError
from index.results import SourceInfo
from index.retrieval.encoder import (
    EMBED_SLICE,
    Encoder,
    Vectors,
    composes_windows,
    embed_in_steps,
)
from index.retrieval.units import compose, window_units
from index.storage.base import IndexedDocument, Store, StoreView, SyncReport
from index.storage.plan import SyncPlan, plan_sync
from index.storage.postgres.schema import hnsw_index
from index.storage.postgres.shelf import PostgresRelationsCache
from index.storage.postgres.view import Part, PostgresView, TenantRow
from index.text.analyser import window_terms
from index.text.progress import Progress
from index.text.splitting import characters, split_documents
from index.text.windows import (
    DEFAULT_PARAMS,
    ChunkerParams,
    Sentence,
    window_bounds,
    window_spans,
)

log = logging.getLogger(__name__)


class Prepared:
    """One document split, embedded and analysed, ready to be written in one transaction."""

    def __init__(
        self,
        document: Document,
        sentences: Sequence[Sentence],
        windows: Sequence[tuple[int, int]],
        vectors: Vectors,
        units: list[list[str]],
        own: list[list[str]],
    ) -> None:
        self.document, self.sentences, self.windows = document, sentences, windows
        self.vectors, self.units, self.own = vectors, units, own


class PostgresStore(Store):
    """A tenant's documents, windows, vectors and postings in PostgreSQL with pgvector."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        tenant: str,
        *,
        model_id: str,
        params: ChunkerParams = DEFAULT_PARAMS,
        shared: str | None = None,
    ) -> None:
        self.pool, self.tenant, self.model_id, self.params = pool, tenant, model_id, params
        # `shared`: a tenant whose documents this one's views show before its own, read only
        # and never copied (a server's view of the shared corpus).
        self.shared = shared if shared != tenant else None
        self.shows_shared = self.shared is not None

    @property
    def _tenants(self) -> list[str]:
        """Return the tenants a view reads, in row order: the shared corpus first, as locally."""
        return [self.shared, self.tenant] if self.shared else [self.tenant]

    @property
    def relations_cache(self) -> PostgresRelationsCache:
        return PostgresRelationsCache(self.pool, self.tenant, self._tenants)

    def latest_generation(self) -> int | None:
        with self.pool.connection() as connection:
            rows = connection.execute(
                "SELECT tenant, generation FROM tenants WHERE tenant = ANY(%s) "
                "AND (model IS NULL OR model = %s)",
                (self._tenants, self.model_id),
            ).fetchall()
        generations = dict(rows)
        if self.tenant not in generations:
            return None
        # A view over two tenants changes when either commits: the sum grows with each.
        return sum(int(generation) for generation in generations.values())

    def view(self) -> PostgresView | None:
        with self.pool.connection() as connection, connection.transaction():
            # One snapshot for the tenants' counts and documents: never half a generation.
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            found = {
                str(row[0]): row[1:]
                for row in connection.execute(
                    "SELECT tenant, generation, next_row, windows, window_terms, sentences, "
                    "model, dimension FROM tenants WHERE tenant = ANY(%s)",
                    (self._tenants,),
                ).fetchall()
            }
            own = found.get(self.tenant)
            if own is None or own[5] not in (None, self.model_id):
                return None
            parts: list[Part] = []
            rows: list[TenantRow] = []
            generation = window_terms_count = sentences = 0
            for tenant in self._tenants:
                counts = found.get(tenant)
                if counts is None or counts[5] not in (None, self.model_id):
                    continue  # a shared corpus not indexed yet, or by another model
                tenant_generation, end_row, windows, terms, tenant_sentences, _, dimension = counts
                shift = sum(part.end_row for part in parts)
                parts.append(Part(tenant, shift, int(end_row), int(dimension or 0), int(windows)))
                generation += int(tenant_generation)
                window_terms_count += int(terms)
                sentences += int(tenant_sentences)
                records = connection.execute(
                    "SELECT doc_id, title, source, source_url, date, "
                    "coalesce(array_length(paragraphs, 1), 0) / 2, row_count, first_row, "
                    "content_hash FROM documents WHERE tenant = %s ORDER BY position",
                    (tenant,),
                ).fetchall()
                rows += [
                    TenantRow(
                        SourceInfo(r[0], r[1], r[2], int(r[5]), int(r[6]), r[3], r[4]),
                        int(r[7]) + shift,
                        r[6],
                        r[8],
                        tenant,
                    )
                    for r in records
                ]
        return PostgresView(
            self.pool,
            parts,
            generation=generation,
            window_terms=window_terms_count,
            sentences=sentences,
            rows=rows,
        )

    def _own_exists(self) -> bool:
        """Say whether this tenant has an index the current model can extend."""
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT model FROM tenants WHERE tenant = %s", (self.tenant,)
            ).fetchone()
        return row is not None and row[0] in (None, self.model_id)

    def _stored(self) -> list[Document] | None:
        """Return this tenant's stored documents' metadata as text-less documents, for the plan."""
        if not self._own_exists():
            return None
        with self.pool.connection() as connection:
            records = connection.execute(
                "SELECT doc_id, title, source, source_url, date, content_hash FROM documents "
                "WHERE tenant = %s ORDER BY position",
                (self.tenant,),
            ).fetchall()
        return [
            Document(r[0], r[1], "", r[2], (), source_url=r[3], date=r[4], content_hash=r[5])
            for r in records
        ]

    def sync(
        self,
        documents: list[Document],
        encoder: Encoder,
        *,
        prune: bool = False,
        must_save: bool = False,
        show_progress: bool = False,
        current: StoreView | None = None,
    ) -> tuple[PostgresView, SyncReport]:
        started = time.perf_counter()
        report = SyncReport()
        try:
            stored = self._stored()
            if stored is None:
                report.rebuilt_because = "no index yet"
                self._forget_other_model()
            plan = plan_sync(stored, documents, prune=prune)
            report.reused, report.removed = list(plan.reuse), list(plan.remove)
            if plan.kept_because:
                report.kept_because = plan.kept_because
                log.warning("Not updating the index: %s", plan.kept_because)
            elif plan.rewrite:
                self._write(plan, documents, encoder, report, show_progress)
        except psycopg.Error as error:
            reason = f"cannot write to the database ({_describe(error)})"
            if must_save:
                raise IndexWriteError(reason) from None
            report.save_error = reason
            log.error("Cannot update the index: %s. Answering from what is stored.", reason)
        report.seconds = time.perf_counter() - started
        view = self.view()
        if view is None:
            raise IndexWriteError(
                report.save_error or "the database holds no index for this tenant"
            )
        return view, report

    def _write(
        self,
        plan: SyncPlan,
        documents: list[Document],
        encoder: Encoder,
        report: SyncReport,
        show_progress: bool,
    ) -> None:
        """Write the plan: each removal and each new document in its own transaction."""
        level = logging.INFO if show_progress else logging.DEBUG
        prepared = self._prepare(plan.embed, encoder, level)
        self._commit(plan, documents, prepared, report)

    def copy_from(
        self, source: StoreView, *, keep: Collection[str] | None = None
    ) -> tuple[SyncReport, list[str]]:
        """Make this tenant hold the source's documents with their vectors; return those copied."""
        # `keep`: the ids of the source's documents to copy (None: all of them).
        started = time.perf_counter()
        documents = [
            item.document
            for item in source.documents
            if keep is None or item.document.doc_id in keep
        ]
        stored = self._stored()
        plan = plan_sync(stored, documents, prune=True)
        report = SyncReport(reused=list(plan.reuse), removed=list(plan.remove))
        if stored is None:
            report.rebuilt_because = "no index yet"
        wanted = {document.doc_id for document in plan.embed}
        prepared = [
            self._reused(item, source)
            for item in source.documents
            if item.document.doc_id in wanted
        ]
        if plan.rewrite:
            self._commit(plan, documents, prepared, report)
        copied, report.embedded = report.embedded, []  # their vectors came with them
        report.seconds = time.perf_counter() - started
        return report, copied

    def _reused(self, item: IndexedDocument, source: StoreView) -> Prepared:
        """Prepare a stored document with its stored vectors and freshly analysed terms."""
        vectors = source.vectors_at(np.arange(item.first_row, item.rows.stop, dtype=np.int64))
        own, units = window_terms(item.document, item.sentences, self.params)
        sentences, windows = list(item.sentences), list(item.windows)
        return Prepared(item.document, sentences, windows, vectors, units, own)

    def _commit(
        self,
        plan: SyncPlan,
        documents: list[Document],
        prepared: list[Prepared],
        report: SyncReport,
    ) -> None:
        """Commit the removals, then each prepared document, then the order: a transaction each."""
        for doc_id in plan.remove:
            with self.pool.connection() as connection, connection.transaction():
                self._lock(connection)
                self._delete(connection, doc_id)
                self._bump(connection)
        for ready in prepared:
            with self.pool.connection() as connection, connection.transaction():
                self._lock(connection)
                self._delete(connection, ready.document.doc_id)
                self._insert(connection, ready, int(ready.vectors.shape[1]))
                self._bump(connection)
            report.embedded.append(ready.document.doc_id)
        with self.pool.connection() as connection, connection.transaction():
            self._lock(connection)
            self._arrange(connection, documents)
            self._bump(connection)
        report.wrote = True

    def _prepare(self, documents: list[Document], encoder: Encoder, level: int) -> list[Prepared]:
        """Split, embed and analyse the documents to write, before any transaction opens."""
        if not documents:
            return []
        splitting = Progress(
            "Splitting sentences", sum(map(characters, documents)), "characters", level=level
        )
        split = split_documents(
            documents, self.params, meanwhile=lambda: encoder.dimension, progress=splitting
        )
        splitting.finish()
        total = sum(len(sentences) for sentences in split)
        embedding = Progress("Embedding", total, "sentence windows", level=level)
        prepared = []
        composed = composes_windows(encoder)
        for document, sentences in zip(documents, split, strict=True):
            windows = window_spans(sentences, self.params.window)
            bounds = window_bounds(sentences, self.params.window) if composed else ()
            parts = []
            for start in range(0, len(windows), EMBED_SLICE):
                texts, chosen = window_units(
                    document,
                    windows,
                    start,
                    start + EMBED_SLICE,
                    self.params,
                    sentences=sentences,
                    sentence_bounds=bounds,
                )
                parts.append(compose(embed_in_steps(encoder, texts, embedding), chosen))
            vectors = (
                np.vstack(parts).astype(np.float32)
                if parts
                else np.zeros((0, encoder.dimension), dtype=np.float32)
            )
            own, units = window_terms(document, sentences, self.params)
            prepared.append(Prepared(document, sentences, windows, vectors, units, own))
        embedding.finish()
        return prepared

    def _lock(self, connection: psycopg.Connection[Any]) -> None:
        """Take the tenant's writer lock for this transaction; other hosts wait for it."""
        connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("verbatim:" + self.tenant,)
        )
        connection.execute(
            "INSERT INTO tenants (tenant, model) VALUES (%s, %s) ON CONFLICT (tenant) DO NOTHING",
            (self.tenant, self.model_id),
        )

    def _bump(self, connection: psycopg.Connection[Any]) -> None:
        connection.execute(
            "UPDATE tenants SET generation = generation + 1 WHERE tenant = %s", (self.tenant,)
        )

    def _forget_other_model(self) -> None:
        """Drop a tenant embedded with another model: its vectors cannot be compared."""
        with self.pool.connection() as connection, connection.transaction():
            self._lock(connection)
            model = connection.execute(
                "SELECT model FROM tenants WHERE tenant = %s", (self.tenant,)
            ).fetchone()
            if model is None or model[0] in (None, self.model_id):
                return
            log.warning("Rebuilding the index: it was built with model %r", model[0])
            for table in ("postings", "windows", "documents", "document_terms"):
                connection.execute(f"DELETE FROM {table} WHERE tenant = %s", (self.tenant,))
            for table in ("window_frequencies", "sentence_frequencies"):
                connection.execute(f"DELETE FROM {table} WHERE tenant = %s", (self.tenant,))
            connection.execute(
                "UPDATE tenants SET windows = 0, window_terms = 0, sentences = 0, model = %s, "
                "dimension = NULL, generation = generation + 1 WHERE tenant = %s",
                (self.model_id, self.tenant),
            )

    def _delete(self, connection: psycopg.Connection[Any], doc_id: str) -> None:
        """Remove a document's rows and take its share out of the tenant's statistics."""
        record = connection.execute(
            "SELECT first_row, row_count, window_terms FROM documents "
            "WHERE tenant = %s AND doc_id = %s",
            (self.tenant, doc_id),
        ).fetchone()
        if record is None:
            return
        first_row, row_count, terms_count = record
        t = self.tenant
        for table, column in (
            ("window_frequencies", "windows"),
            ("sentence_frequencies", "sentences"),
        ):
            connection.execute(
                f"UPDATE {table} AS f SET df = f.df - d.{column} FROM document_terms AS d "
                f"WHERE f.tenant = %s AND d.tenant = %s AND d.doc_id = %s AND f.term = d.term",
                (t, t, doc_id),
            )
            connection.execute(f"DELETE FROM {table} WHERE tenant = %s AND df <= 0", (t,))
        connection.execute(
            "DELETE FROM postings WHERE tenant = %s AND row_id >= %s AND row_id < %s",
            (t, first_row, first_row + row_count),
        )
        for table in ("windows", "document_terms", "documents"):
            connection.execute(
                f"DELETE FROM {table} WHERE tenant = %s AND doc_id = %s", (t, doc_id)
            )
        connection.execute(
            "UPDATE tenants SET windows = windows - %s, window_terms = window_terms - %s, "
            "sentences = sentences - %s WHERE tenant = %s",
            (row_count, terms_count, row_count, t),
        )

    def _insert(
        self, connection: psycopg.Connection[Any], prepared: Prepared, dimension: int
    ) -> None:
        """Write one document, its windows, postings and its share of the statistics."""
        t, document = self.tenant, prepared.document
        row = connection.execute(
            "SELECT next_row FROM tenants WHERE tenant = %s FOR UPDATE", (t,)
        ).fetchone()
        first_row = int(row[0]) if row else 0
        count = len(prepared.sentences)
        terms_count = sum(len(unit) for unit in prepared.units)
        connection.execute(
            "INSERT INTO documents (tenant, doc_id, position, title, source, source_url, date, "
            "content_hash, signature, body, paragraphs, first_row, row_count, window_terms) "
            "VALUES (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                t,
                document.doc_id,
                document.title,
                document.source,
                document.source_url,
                document.date,
                document.content_hash,
                document.signature,
                document.text,
                [offset for span in document.paragraphs for offset in span],
                first_row,
                count,
                terms_count,
            ),
        )
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY windows (tenant, row_id, doc_id, sentence, paragraph, sentence_start, "
                "sentence_end, window_start, window_end, dimension, embedding) FROM STDIN"
            ) as copy:
                for index, (sentence, window) in enumerate(
                    zip(prepared.sentences, prepared.windows, strict=True)
                ):
                    copy.write_row(
                        (
                            t,
                            first_row + index,
                            document.doc_id,
                            index,
                            sentence.paragraph,
                            sentence.start,
                            sentence.end,
                            window[0],
                            window[1],
                            dimension,
                            prepared.vectors[index],
                        )
                    )
            with cursor.copy("COPY postings (tenant, term, row_id, tf, length) FROM STDIN") as copy:
                for index, unit in enumerate(prepared.units):
                    for term, tf in Counter(unit).items():
                        copy.write_row((t, term, first_row + index, tf, len(unit)))
        in_windows: Counter[str] = Counter()
        for unit in prepared.units:
            in_windows.update(set(unit))
        in_sentences: Counter[str] = Counter()
        for own in prepared.own:
            in_sentences.update(set(own))
        shares = [
            (t, document.doc_id, term, in_windows[term], in_sentences[term])
            for term in in_windows.keys() | in_sentences.keys()
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO document_terms (tenant, doc_id, term, windows, sentences) "
                "VALUES (%s, %s, %s, %s, %s)",
                shares,
            )
            for table, at in (("window_frequencies", 3), ("sentence_frequencies", 4)):
                cursor.executemany(
                    f"INSERT INTO {table} (tenant, term, df) VALUES (%s, %s, %s) "
                    f"ON CONFLICT (tenant, term) DO UPDATE SET df = {table}.df + EXCLUDED.df",
                    [(t, share[2], share[at]) for share in shares if share[at]],
                )
        connection.execute(
            "UPDATE tenants SET next_row = next_row + %s, windows = windows + %s, "
            "window_terms = window_terms + %s, sentences = sentences + %s, model = %s, "
            "dimension = %s WHERE tenant = %s",
            (count, count, terms_count, count, self.model_id, dimension, t),
        )
        connection.execute(hnsw_index(dimension))

    def _arrange(self, connection: psycopg.Connection[Any], documents: list[Document]) -> None:
        """Store the corpus order and every document's current title, link and signature."""
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE documents SET position = %s, title = %s, source = %s, source_url = %s, "
                "date = %s, signature = %s WHERE tenant = %s AND doc_id = %s",
                [
                    (
                        position,
                        d.title,
                        d.source,
                        d.source_url,
                        d.date,
                        d.signature,
                        self.tenant,
                        d.doc_id,
                    )
                    for position, d in enumerate(documents)
                ],
            )

    def recorded_model(self) -> str | None:
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT model FROM tenants WHERE tenant = %s", (self.tenant,)
            ).fetchone()
        return str(row[0]) if row and row[0] else None

    def note_verifier(self, location: Path, sha256: str) -> None:
        entry = json.dumps({"path": str(location), "sha256": sha256})
        try:
            with self.pool.connection() as connection:
                connection.execute(
                    "UPDATE tenants SET verifier = %s::jsonb WHERE tenant = %s "
                    "AND verifier IS DISTINCT FROM %s::jsonb",
                    (entry, self.tenant, entry),
                )
        except psycopg.Error as error:
            log.info("Verifier not recorded for %s: %s", self.tenant, _describe(error))


def _describe(error: Exception) -> str:
    """Return a database error's first line, without a traceback or the connection string."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]
