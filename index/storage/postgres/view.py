"""One generation of a tenant in Postgres, read: pgvector and SQL BM25 by row, rows to documents."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any, Literal, NamedTuple, overload

import numpy as np
from numpy.typing import NDArray
from psycopg import sql
from psycopg_pool import ConnectionPool

from index.corpus.documents import Document
from index.results import SourceInfo
from index.retrieval.backend import TermStatistics
from index.retrieval.fusion import at_once
from index.retrieval.ranked import EMPTY, Ranked, Rows, Scores, best_first
from index.storage.base import IndexedDocument, RowPlace
from index.storage.bm25 import idf
from index.storage.postgres.bm25 import KEYWORD_AT, KEYWORD_TOP, Weighed, weighed
from index.storage.tables import COLUMNS, SentenceColumns, Table, WindowColumns

# Below this many windows a tenant's dense search scans every row exactly: measured in
# docs/scaling.md, an exact scan of a small tenant is as fast as HNSW and never misses.
EXACT_BELOW = 20_000
# HNSW candidates per query, raised to k; iterative scans fetch more when the tenant filter
# discards many.
EF_SEARCH = 100
# Documents whose text and sentences a view keeps, most recently used.
CACHED_DOCUMENTS = 64
# From this many windows on, a view's BM25 top list is ranked in row ranges at once, each on a
# connection of its own, and the ranges' top lists are merged. That is exact: a range's top k
# holds every row of the whole top k that lies in it. A common term's postings make the server
# group every row it occurs in; at 200k windows that took 80 ms for the slowest questions,
# about half of it when the rows are cut in two (docs/benchmarks.md). Below this size the
# hand-off costs about what it saves.
KEYWORD_RANGES_FROM = 50_000
KEYWORD_RANGES = 2


class Part(NamedTuple):
    """One tenant's rows in a view: its row ids, shifted, follow the parts before it."""

    tenant: str
    shift: int  # added to the tenant's own row ids to make the view's
    end_row: int  # the tenant's rows at this generation lie below this (its own ids)
    dimension: int
    windows: int

    def rows(self, rows: Rows) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """Return which of the view's rows are this tenant's, and their ids in the tenant."""
        rows = np.asarray(rows, dtype=np.int64)
        own = (rows >= self.shift) & (rows < self.shift + self.end_row)
        return own, rows - self.shift


class TenantRow:
    """A stored document's place and listing, read once per view (no text)."""

    def __init__(
        self,
        listed: SourceInfo,
        first_row: int,
        row_count: int,
        content_hash: str,
        tenant: str = "",
    ) -> None:
        self.listed = listed
        self.first_row = first_row  # in the view's row ids
        self.row_count = row_count
        self.content_hash = content_hash
        self.tenant = tenant


class Frequencies:
    """The tenants' frequencies of terms (by sentence or by window), read when first needed."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        tenants: list[str],
        table: Literal["sentence_frequencies", "window_frequencies"],
        size: int,
    ) -> None:
        self._pool, self._tenants, self.size = pool, tenants, size
        # A fixed table name, never user input; sql.Identifier quotes it all the same.
        self._query = sql.SQL(
            "SELECT term, sum(df) FROM {} WHERE tenant = ANY(%s) AND term = ANY(%s) GROUP BY term"
        ).format(sql.Identifier(table))
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()

    def counts(self, terms: Iterable[str]) -> dict[str, int]:
        """Return each term's frequency, reading those not known yet in one query."""
        wanted = set(terms)
        with self._lock:
            known = {term: self._known[term] for term in wanted if term in self._known}
        unknown = sorted(wanted - known.keys())
        if unknown:
            with self._pool.connection() as connection:
                # Over several tenants a term's frequency is the sum of theirs, as in one index.
                found = dict(connection.execute(self._query, (self._tenants, unknown)).fetchall())
            read = {term: int(found.get(term) or 0) for term in unknown}
            with self._lock:
                self._known.update(read)
            known.update(read)
        return known

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a term, as the local store weighs it."""
        return idf(self.counts([term])[term], self.size)


class LazyDocuments(Sequence[IndexedDocument]):
    """The view's documents in order, each read from the database when first needed."""

    def __init__(self, pool: ConnectionPool[Any], rows: list[TenantRow]) -> None:
        self._pool, self._rows = pool, rows
        self._cache: OrderedDict[int, IndexedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> IndexedDocument: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[IndexedDocument]: ...
    def __getitem__(self, index: int | slice) -> IndexedDocument | Sequence[IndexedDocument]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = range(len(self))[index]
        with self._lock:
            cached = self._cache.get(position)
            if cached is not None:
                self._cache.move_to_end(position)
                return cached
        item = self._read(position)
        self._keep({position: item})
        return item

    def __iter__(self) -> Iterator[IndexedDocument]:
        for position in range(len(self)):
            yield self[position]

    def read_ahead(self, positions: Sequence[int]) -> None:
        """Read the documents at these positions that are not kept, in a round trip a tenant."""
        with self._lock:
            missing = [p for p in dict.fromkeys(positions) if p not in self._cache]
        if len(missing) >= 2:  # one alone is read when first needed, as without reading ahead
            self._keep(self._fetch(missing))

    def _read(self, position: int) -> IndexedDocument:
        item = self._fetch([position]).get(position)
        if item is None:
            document = self._rows[position].listed.document
            raise LookupError(f"document {document!r} left the store while being read")
        return item

    def _fetch(self, positions: Sequence[int]) -> dict[int, IndexedDocument]:
        """Read documents by position, a round trip a tenant; leave out any that left the store."""
        by_tenant: dict[str, list[int]] = {}
        for position in positions:
            by_tenant.setdefault(self._rows[position].tenant, []).append(position)
        items: dict[int, IndexedDocument] = {}
        with self._pool.connection() as connection:
            # Per tenant, so that each read is a scan of the documents' index over an array of ids.
            for tenant, wanted in by_tenant.items():
                ids = [self._rows[position].listed.document for position in wanted]
                records = {
                    doc_id: rest
                    for doc_id, *rest in connection.execute(
                        "SELECT doc_id, body, paragraphs, signature FROM documents "
                        "WHERE tenant = %s AND doc_id = ANY(%s)",
                        (tenant, ids),
                    ).fetchall()
                }
                tables = dict(_tables(connection, tenant, ids))
                for position, doc_id in zip(wanted, ids, strict=True):
                    if doc_id in records:
                        body, flat, signature = records[doc_id]
                        table = tables.get(doc_id, _EMPTY_TABLE)
                        items[position] = _indexed(
                            self._rows[position], body, flat, signature, table
                        )
        return items

    def _keep(self, items: dict[int, IndexedDocument]) -> None:
        """Cache documents read, dropping the least recently used beyond the cache's size."""
        with self._lock:
            self._cache.update(items)
            while len(self._cache) > CACHED_DOCUMENTS:
                self._cache.popitem(last=False)


_EMPTY_TABLE: Table = np.zeros((0, COLUMNS), dtype=np.int64)


def _tables(connection: Any, tenant: str, ids: list[str]) -> Iterator[tuple[str, Table]]:
    """Yield each document's row table: its windows' paragraphs, sentences and spans, in order."""
    # One array a column and document, not a tuple a window: the driver parses arrays in C.
    found = connection.execute(
        "SELECT doc_id, array_agg(paragraph ORDER BY row_id), "
        "array_agg(sentence_start ORDER BY row_id), array_agg(sentence_end ORDER BY row_id), "
        "array_agg(window_start ORDER BY row_id), array_agg(window_end ORDER BY row_id) "
        "FROM windows WHERE tenant = %s AND doc_id = ANY(%s) GROUP BY doc_id",
        (tenant, ids),
        binary=True,  # integer arrays in binary parse in a third less time than as text
    ).fetchall()
    for doc_id, *columns in found:
        yield doc_id, np.column_stack([np.asarray(c, dtype=np.int64) for c in columns])


def _indexed(
    row: TenantRow, body: str, flat: list[int], signature: Any, table: Table
) -> IndexedDocument:
    """Build a document, its sentences and its windows from what the database holds of it."""
    listed = row.listed
    document = Document(
        doc_id=listed.document,
        title=listed.title,
        text=body,
        source=listed.source,
        paragraphs=tuple(zip(flat[0::2], flat[1::2], strict=True)),
        source_url=listed.source_url,
        date=listed.date,
        content_hash=row.content_hash,
        signature=signature,
    )
    # Columns, not a tuple per sentence: at 200k windows every question reads about ten
    # documents, and the objects they left made the collector's full passes (50-70 ms) land on
    # one question in twenty (docs/benchmarks.md).
    return IndexedDocument(document, SentenceColumns(table), WindowColumns(table), row.first_row)


class PostgresView:
    """One or more tenants' windows as of one generation: searched in the database, read by row."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        parts: list[Part],
        *,
        generation: int,
        window_terms: int,
        sentences: int,
        rows: list[TenantRow],
    ) -> None:
        # Several parts: a server's view over the shared corpus and its own documents, scored
        # as one index of both (BM25's counts and frequencies are the sums of the tenants').
        self._pool, self._parts = pool, parts
        self._tenants = [part.tenant for part in parts]
        self._generation = generation
        self._windows = sum(part.windows for part in parts)
        self._window_terms = window_terms
        self._rows = rows
        self._documents = LazyDocuments(pool, rows)
        self._terms = Frequencies(pool, self._tenants, "sentence_frequencies", sentences)
        self._frequencies = Frequencies(pool, self._tenants, "window_frequencies", self._windows)
        # Rows are allocated in blocks, one per document; a document keeps its position in the
        # corpus order even when a newer version's block lies after everyone else's.
        self._by_first_row = sorted(range(len(rows)), key=lambda p: rows[p].first_row)
        self._order = np.asarray(self._by_first_row, dtype=np.int32)
        self._firsts = np.asarray([rows[p].first_row for p in self._by_first_row], np.int64)
        self._ends = self._firsts + np.asarray(
            [rows[p].row_count for p in self._by_first_row], np.int64
        )
        cut = KEYWORD_RANGES if self._windows >= KEYWORD_RANGES_FROM else 1
        self._keyword_ranges = row_ranges(parts, cut)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def documents(self) -> Sequence[IndexedDocument]:
        return self._documents

    @property
    def size(self) -> int:
        return self._windows

    @property
    def concurrent(self) -> bool:
        # Each request runs in a server process of its own, so two cost the slower one's time.
        return True

    @property
    def exact_top_scores(self) -> bool:
        # The top lists score with the same SQL expressions as dense_at and keyword_at.
        return True

    @property
    def term_statistics(self) -> TermStatistics:
        return self._terms

    @property
    def tenants(self) -> list[str]:
        """Return the tenants this view reads, in row order."""
        return list(self._tenants)

    def listing(self) -> Sequence[SourceInfo]:
        return [row.listed for row in self._rows]

    def tenant_of(self, position: int) -> str:
        """Return the tenant whose document lies at a position."""
        return self._rows[position].tenant

    def describe(self) -> dict[str, Any]:
        """Return the store's kind and how its dense side searches these tenants."""
        kinds = {"exact" if part.windows < EXACT_BELOW else "hnsw" for part in self._parts}
        return {"store": "postgres", "dense": kinds.pop() if len(kinds) == 1 else "mixed"}

    def _position_of(self, row: int) -> int:
        return int(self.document_positions(np.asarray([row], dtype=np.int64))[0])

    def place(self, row: int) -> RowPlace:
        position = self._position_of(row)
        item = self._documents[position]
        return RowPlace(position, item, row - self._rows[position].first_row)

    def _placed(self, rows: Rows) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """Return each row's block (documents sorted by first row) and whether it lies in it."""
        rows = np.asarray(rows, dtype=np.int64)
        blocks = np.searchsorted(self._firsts, rows, side="right") - 1
        if not len(self._firsts):
            return blocks, np.zeros(len(rows), dtype=bool)
        return blocks, (blocks >= 0) & (rows < self._ends[np.maximum(blocks, 0)])

    def _blocks(self, rows: Rows) -> NDArray[np.intp]:
        """Return each row's block; raise for a row outside this generation."""
        blocks, inside = self._placed(rows)
        if not inside.all():
            missing = int(np.asarray(rows, dtype=np.int64)[~inside][0])
            raise LookupError(f"row {missing} is not in this generation of the store")
        return blocks

    def document_positions(self, rows: Rows) -> NDArray[np.int32]:
        return self._order[self._blocks(rows)]

    def read_ahead(self, positions: Sequence[int]) -> None:
        self._documents.read_ahead(positions)

    def sentence_positions(self, rows: Rows) -> NDArray[np.int32]:
        blocks = self._blocks(rows)
        offsets = np.asarray(rows, dtype=np.int64) - self._firsts[blocks]
        return offsets.astype(np.int32)

    def dense_top(self, query: NDArray[np.float32], k: int) -> Ranked:
        if k <= 0 or not self._windows:
            return EMPTY
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        found: list[tuple[Any, ...]] = []
        with self._pool.connection() as connection:
            for part in self._parts:
                if part.windows:
                    found += [
                        (int(row) + part.shift, score)
                        for row, score in self._dense_part(connection, part, vector, k)
                    ]
        return self._ranked(found, k)

    def _dense_part(
        self, connection: Any, part: Part, vector: NDArray[np.float32], k: int
    ) -> list[tuple[Any, ...]]:
        """Return one tenant's best k rows by cosine, in its own row ids."""
        d = part.dimension
        arguments = {"q": vector, "t": part.tenant, "end": part.end_row, "k": k}
        with connection.transaction():
            if part.windows < EXACT_BELOW:
                # No index names the bare column, so this is an exact scan of the tenant's rows.
                return list(
                    connection.execute(
                        "SELECT row_id, -(embedding <#> %(q)s) FROM windows "
                        "WHERE tenant = %(t)s AND row_id < %(end)s "
                        "ORDER BY embedding <#> %(q)s, row_id LIMIT %(k)s",
                        arguments,
                    ).fetchall()
                )
            connection.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            connection.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(EF_SEARCH, k))}")
            return list(
                connection.execute(
                    f"SELECT row_id, -((embedding::vector({d})) <#> %(q)s::vector({d})) "
                    f"FROM windows WHERE tenant = %(t)s AND dimension = {d} "
                    f"AND row_id < %(end)s "
                    f"ORDER BY (embedding::vector({d})) <#> %(q)s::vector({d}) LIMIT %(k)s",
                    arguments,
                ).fetchall()
            )

    def _ranked(self, found: list[tuple[Any, ...]], k: int) -> Ranked:
        if not found:
            return EMPTY
        rows = np.fromiter((int(r) for r, _ in found), np.int64, len(found))
        scores = np.fromiter((float(s) for _, s in found), np.float64, len(found))
        _, live = self._placed(rows)
        if not live.any():
            return EMPTY
        return best_first(rows[live], scores[live].astype(np.float32), k)

    def keyword_top(self, query_terms: Sequence[str], k: int) -> Ranked:
        if k <= 0 or not query_terms or not self._windows:
            return EMPTY
        weights = self._weighed(query_terms)
        if not weights.terms:
            return EMPTY
        arguments = weights.arguments() | {
            "tenants": self._tenants,
            "shifts": [part.shift for part in self._parts],
            "k": k,
        }

        def ranked_in(starts: list[int], stops: list[int]) -> list[tuple[Any, ...]]:
            with self._pool.connection() as connection:
                asked = arguments | {"starts": starts, "ends": stops}
                return list(connection.execute(KEYWORD_TOP, asked).fetchall())

        tops = at_once([partial(ranked_in, *bounds) for bounds in self._keyword_ranges])
        return self._ranked(best_of(tops, k), k)

    def _weighed(self, query_terms: Sequence[str]) -> Weighed:
        frequencies = self._frequencies.counts(query_terms)
        return weighed(query_terms, frequencies, self._windows, self._window_terms)

    def dense_at(self, query: NDArray[np.float32], rows: Rows) -> Scores:
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        found: dict[int, float] = {}
        with self._pool.connection() as connection:
            for part, wanted in self._by_part(rows):
                found.update(
                    (int(row) + part.shift, score)
                    for row, score in connection.execute(
                        "SELECT row_id, -(embedding <#> %(q)s) FROM windows "
                        "WHERE tenant = %(t)s AND row_id = ANY(%(rows)s)",
                        {"q": vector, "t": part.tenant, "rows": wanted},
                    ).fetchall()
                )
        return _aligned(rows, found)

    def _by_part(self, rows: Rows) -> list[tuple[Part, list[int]]]:
        """Split the view's rows by tenant, as each tenant's own row ids."""
        split = []
        for part in self._parts:
            own, local = part.rows(rows)
            if own.any():
                split.append((part, [int(r) for r in local[own]]))
        return split

    def keyword_at(self, query_terms: Sequence[str], rows: Rows) -> Scores:
        if not query_terms or not len(rows):
            return np.zeros(len(rows), dtype=np.float32)
        weights = self._weighed(query_terms)
        if not weights.terms:
            return np.zeros(len(rows), dtype=np.float32)
        asked: dict[tuple[str, int], int] = {}
        for part, ids in self._by_part(rows):
            asked.update(((part.tenant, own), own + part.shift) for own in ids)
        own_ids = sorted({own for _, own in asked})
        arguments = weights.arguments() | {"tenants": self._tenants, "row_ids": own_ids}
        with self._pool.connection() as connection:
            found = connection.execute(KEYWORD_AT, arguments).fetchall()
        scores = {}
        for tenant, own, score in found:
            row = asked.get((tenant, int(own)))
            if row is not None:  # an id asked of another tenant
                scores[row] = score
        return _aligned(rows, scores)

    def vectors_at(self, rows: Rows) -> NDArray[np.float32]:
        wanted = [int(r) for r in rows]
        if not wanted:
            return np.zeros((0, self._parts[0].dimension if self._parts else 0), np.float32)
        vectors: dict[int, NDArray[np.float32]] = {}
        with self._pool.connection() as connection:
            for part, ids in self._by_part(rows):
                found = connection.execute(
                    "SELECT row_id, embedding FROM windows WHERE tenant = %s AND row_id = ANY(%s)",
                    (part.tenant, ids),
                ).fetchall()
                vectors.update(
                    (int(r) + part.shift, np.asarray(v.to_numpy(), dtype=np.float32))
                    for r, v in found
                )
        return np.vstack([vectors[r] for r in wanted]).astype(np.float32)


def row_ranges(parts: Sequence[Part], count: int) -> list[tuple[list[int], list[int]]]:
    """Cut a view's rows into `count` ranges of about equal size, as each tenant's own bounds."""
    total = max((part.shift + part.end_row for part in parts), default=0)
    cuts = [total * i // count for i in range(count + 1)]
    return [
        (
            [min(max(lo - part.shift, 0), part.end_row) for part in parts],
            [min(max(hi - part.shift, 0), part.end_row) for part in parts],
        )
        for lo, hi in itertools.pairwise(cuts)
    ]


def best_of(tops: Sequence[list[tuple[Any, ...]]], k: int) -> list[tuple[Any, ...]]:
    """Merge top lists of disjoint rows into the best k, ordered as SQL orders one list."""
    if len(tops) == 1:
        return tops[0]
    merged = [pair for top in tops for pair in top]
    merged.sort(key=lambda pair: (-float(pair[1]), int(pair[0])))
    return merged[:k]


def _aligned(rows: Rows, found: dict[Any, Any]) -> Scores:
    """Return the scores in the order of `rows`, 0 for rows the query did not reach."""
    return np.asarray([float(found.get(int(r), 0.0)) for r in rows], dtype=np.float32)
