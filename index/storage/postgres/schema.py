"""The Postgres store's tables, created or upgraded at start, one version at a time."""

from __future__ import annotations

import psycopg

from index.errors import ConfigError

SCHEMA_VERSION = 8
# Taken in the migration's transaction, so that two processes starting at once migrate once.
MIGRATION_LOCK = 7_261_001

# Every table carries the tenant (a server's id, or "shared" for the shared corpus), and every
# query filters by it, so that Citus can distribute the tables by it.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS tenants (
            tenant text PRIMARY KEY,
            generation bigint NOT NULL DEFAULT 0,
            next_row bigint NOT NULL DEFAULT 0,
            windows bigint NOT NULL DEFAULT 0,
            window_terms bigint NOT NULL DEFAULT 0,
            sentences bigint NOT NULL DEFAULT 0,
            model text,
            dimension integer,
            verifier jsonb
        )""",
        """CREATE TABLE IF NOT EXISTS documents (
            tenant text NOT NULL,
            doc_id text NOT NULL,
            position integer NOT NULL,
            title text NOT NULL,
            source text NOT NULL,
            source_url text,
            date text,
            content_hash text NOT NULL,
            signature text NOT NULL DEFAULT '',
            body text NOT NULL,
            paragraphs integer[] NOT NULL,
            first_row bigint NOT NULL,
            row_count integer NOT NULL,
            window_terms bigint NOT NULL,
            PRIMARY KEY (tenant, doc_id)
        )""",
        """CREATE TABLE IF NOT EXISTS windows (
            tenant text NOT NULL,
            row_id bigint NOT NULL,
            doc_id text NOT NULL,
            sentence integer NOT NULL,
            paragraph integer NOT NULL,
            sentence_start integer NOT NULL,
            sentence_end integer NOT NULL,
            window_start integer NOT NULL,
            window_end integer NOT NULL,
            dimension integer NOT NULL,
            embedding vector NOT NULL,
            PRIMARY KEY (tenant, row_id)
        )""",
        "CREATE INDEX IF NOT EXISTS windows_by_document ON windows (tenant, doc_id)",
        """CREATE TABLE IF NOT EXISTS postings (
            tenant text NOT NULL,
            term text NOT NULL,
            row_id bigint NOT NULL,
            tf integer NOT NULL,
            length integer NOT NULL,
            PRIMARY KEY (tenant, term, row_id)
        )""",
        "CREATE INDEX IF NOT EXISTS postings_by_row ON postings (tenant, row_id)",
        """CREATE TABLE IF NOT EXISTS window_frequencies (
            tenant text NOT NULL,
            term text NOT NULL,
            df bigint NOT NULL,
            PRIMARY KEY (tenant, term)
        )""",
        # What each document adds to the frequencies, so that removing it subtracts exactly that.
        """CREATE TABLE IF NOT EXISTS document_terms (
            tenant text NOT NULL,
            doc_id text NOT NULL,
            term text NOT NULL,
            windows integer NOT NULL,
            sentences integer NOT NULL,
            PRIMARY KEY (tenant, doc_id, term)
        )""",
        """CREATE TABLE IF NOT EXISTS sentence_frequencies (
            tenant text NOT NULL,
            term text NOT NULL,
            df bigint NOT NULL,
            PRIMARY KEY (tenant, term)
        )""",
    ],
    # A server's shelf (the files it uploaded, who added each and when), its audit log, the
    # votes on answers, and each document's who-spoke-with-whom extraction.
    2: [
        """CREATE TABLE IF NOT EXISTS uploads (
            tenant text NOT NULL,
            doc_id text NOT NULL,
            filename text NOT NULL,
            title text NOT NULL,
            source_url text,
            added_by text NOT NULL,
            added_at timestamptz NOT NULL,
            sha256 text NOT NULL,
            payload bytea NOT NULL,
            hidden_since timestamptz,
            PRIMARY KEY (tenant, doc_id)
        )""",
        # One copy of a file per server, even when two processes add it at once.
        "CREATE UNIQUE INDEX IF NOT EXISTS uploads_by_content ON uploads (tenant, sha256)",
        """CREATE TABLE IF NOT EXISTS audit (
            tenant text NOT NULL,
            id bigint GENERATED ALWAYS AS IDENTITY,
            at timestamptz NOT NULL,
            user_name text NOT NULL,
            action text NOT NULL,
            doc_id text,
            title text,
            sha256 text,
            source_url text,
            PRIMARY KEY (tenant, id)
        )""",
        """CREATE TABLE IF NOT EXISTS votes (
            tenant text NOT NULL,
            id bigint GENERATED ALWAYS AS IDENTITY,
            at timestamptz NOT NULL,
            user_id text NOT NULL,
            helpful boolean NOT NULL,
            question text NOT NULL,
            answered boolean NOT NULL,
            quotes jsonb NOT NULL,
            PRIMARY KEY (tenant, id)
        )""",
        """CREATE TABLE IF NOT EXISTS relations_cache (
            tenant text NOT NULL,
            doc_id text NOT NULL,
            content_hash text NOT NULL,
            extraction jsonb NOT NULL,
            PRIMARY KEY (tenant, doc_id, content_hash)
        )""",
    ],
    # The indexing jobs: /docs puts one, any process claims it (FOR UPDATE SKIP LOCKED) under
    # a lease that its worker renews, and progress and the result come back through the row.
    3: [
        """CREATE TABLE IF NOT EXISTS jobs (
            id bigserial PRIMARY KEY,
            tenant text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('add', 'remove', 'reindex')),
            payload jsonb NOT NULL DEFAULT '{}'::jsonb,
            data bytea,
            state text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
            attempts integer NOT NULL DEFAULT 0,
            lease_until timestamptz,
            worker text,
            progress jsonb,
            result jsonb,
            error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz
        )""",
        # Workers look only at the jobs still to do, oldest first, and a tenant's in order.
        "CREATE INDEX IF NOT EXISTS jobs_open ON jobs (id) WHERE state IN ('queued', 'running')",
        "CREATE INDEX IF NOT EXISTS jobs_open_by_tenant ON jobs (tenant, id) "
        "WHERE state IN ('queued', 'running')",
        "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at) "
        "WHERE state IN ('done', 'failed')",
    ],
    # Each server's gap log: the questions its documents could not answer (no user id).
    4: [
        """CREATE TABLE IF NOT EXISTS gaps (
            tenant text NOT NULL,
            id bigint GENERATED ALWAYS AS IDENTITY,
            at timestamptz NOT NULL,
            kind text NOT NULL,
            question text NOT NULL,
            passages text[] NOT NULL,
            PRIMARY KEY (tenant, id)
        )""",
        "CREATE INDEX IF NOT EXISTS gaps_by_time ON gaps (tenant, at)",
    ],
    5: [
        # Small per-server settings (auto-answer channels, page schedules), one jsonb a key.
        """CREATE TABLE IF NOT EXISTS server_state (
            tenant text NOT NULL,
            key text NOT NULL,
            value jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant, key)
        )""",
    ],
    6: [
        # A page fetched again whose text changed is replaced by a "refresh" job.
        "ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_kind_check",
        "ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check "
        "CHECK (kind IN ('add', 'remove', 'reindex', 'refresh'))",
    ],
    7: [
        # The postings' key carries tf and length, so that BM25 reads a term's postings from
        # the index alone (an index-only scan) instead of visiting each row in the table.
        "ALTER TABLE postings DROP CONSTRAINT postings_pkey, "
        "ADD CONSTRAINT postings_pkey PRIMARY KEY (tenant, term, row_id) INCLUDE (tf, length)",
    ],
    8: [
        # A document's row table (paragraphs and spans in row order) read from the index alone:
        # from the table, each window's row (its vector inline) was a page read, the most of a
        # read of the candidate documents at 200k windows.
        "CREATE INDEX IF NOT EXISTS windows_by_document_rows ON windows (tenant, doc_id, row_id) "
        "INCLUDE (paragraph, sentence_start, sentence_end, window_start, window_end)",
        "DROP INDEX IF EXISTS windows_by_document",
    ],
}


class SchemaError(ConfigError):
    """The database cannot hold Verbatim's tables as they are; the message says what to do."""


def hnsw_index(dimension: int) -> str:
    """Return the DDL of the HNSW index for vectors of one dimension (a partial index)."""
    # A vector column of no fixed size cannot be indexed as it is, so each dimension the
    # tenants use gets an expression index, which the dense query names in its ORDER BY.
    return (
        f"CREATE INDEX IF NOT EXISTS windows_hnsw_{dimension} ON windows "
        f"USING hnsw ((embedding::vector({dimension})) vector_ip_ops) "
        f"WHERE dimension = {dimension}"
    )


def migrate(connection: psycopg.Connection[tuple[object, ...]]) -> int:
    """Create or upgrade the schema to SCHEMA_VERSION, idempotently; return the version."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        available = connection.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        if available is None:
            raise SchemaError(
                "VERBATIM_DATABASE_URL: this PostgreSQL server has no pgvector extension. "
                "Install it (the pgvector/pgvector image, or your host's pgvector package) "
                "and start again."
            )
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        connection.execute("CREATE TABLE IF NOT EXISTS verbatim_schema (version integer NOT NULL)")
        row = connection.execute("SELECT max(version) FROM verbatim_schema").fetchone()
        current = int(str(row[0])) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise SchemaError(
                f"VERBATIM_DATABASE_URL: the database's schema is version {current}, newer than "
                f"this Verbatim's {SCHEMA_VERSION}. Upgrade Verbatim, or point it at another "
                "database."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                connection.execute(statement.encode())
            connection.execute("INSERT INTO verbatim_schema (version) VALUES (%s)", (version,))
    return SCHEMA_VERSION
