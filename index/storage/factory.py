"""Open the store the settings name; the only module that imports a store's implementation."""

from __future__ import annotations

from index.settings import EngineSettings
from index.storage.base import Store
from index.storage.jobs import JobQueue
from index.storage.local.store import LocalStore
from index.storage.turns import Turns

SHARED_TENANT = "shared"


def open_store(settings: EngineSettings, model_id: str, *, tenant: str = SHARED_TENANT) -> Store:
    """Return the store the settings name: Postgres when a database URL is set, else files."""
    # `tenant` names whose documents these are in a shared database: a server's id, or the
    # shared corpus. The local store keeps each tenant in its own index folder instead.
    if settings.database_url is not None:
        # Imported only when asked for: a self-hoster on files never loads psycopg.
        from index.storage.postgres.connection import pool_for
        from index.storage.postgres.store import PostgresStore

        pool = pool_for(
            settings.database_url.get_secret_value(), wait_seconds=settings.database_wait_seconds
        )
        return PostgresStore(pool, tenant, model_id=model_id)
    return LocalStore(
        settings.index_dir,
        model_id=model_id,
        lock_timeout=settings.lock_timeout,
        hnsw_min_rows=settings.hnsw_min_rows,
    )


def open_jobs(settings: EngineSettings, *, lease_seconds: float = 60.0) -> JobQueue | None:
    """Return the database's jobs queue, or None on local files (changes then run in-process)."""
    if settings.database_url is None:
        return None
    from index.storage.postgres.connection import pool_for
    from index.storage.postgres.jobs import PostgresJobQueue

    url = settings.database_url.get_secret_value()
    return PostgresJobQueue(pool_for(url), url, lease_seconds=lease_seconds)


def migrate_store(settings: EngineSettings) -> str:
    """Create or upgrade the configured store's schema; return a line saying what it found."""
    if settings.database_url is None:
        return "Nothing to migrate: VERBATIM_DATABASE_URL is not set, so the index is local files."
    from index.storage.postgres.connection import pool_for
    from index.storage.postgres.schema import SCHEMA_VERSION

    pool_for(settings.database_url.get_secret_value(), wait_seconds=settings.database_wait_seconds)
    return f"The database's schema is at version {SCHEMA_VERSION}."


def turns_for(settings: EngineSettings, name: str) -> Turns:
    """Return the buckets named `name` that every process sharing the configured store sees."""
    # With a database, processes on any host share its advisory locks; on files, the
    # processes of one host that share the data folder share its lock files.
    if settings.database_url is not None:
        from index.storage.postgres.turns import AdvisoryTurns

        return AdvisoryTurns(settings.database_url.get_secret_value(), name)
    from index.storage.local.turns import FileTurns

    return FileTurns(settings.data_dir / "locks", name)
