"""Open the store the settings name; the only module that imports a store's implementation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.errors import ConfigError
from index.settings import EngineSettings
from index.storage.base import Store
from index.storage.jobs import JobQueue
from index.storage.local.shelf import LocalShelf
from index.storage.local.state import LocalStates
from index.storage.local.store import LocalStore
from index.storage.local.votes import FeedbackFile
from index.storage.rows import GapTable
from index.storage.shelf import FEEDBACK_MAX_BYTES, Shelf, VoteLog
from index.storage.state import ServerStates
from index.storage.turns import Turns

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

SHARED_TENANT = "shared"


def _pool(settings: EngineSettings) -> ConnectionPool[Any]:
    """Return the process's pool for the configured database (waiting for it at start)."""
    from index.storage.postgres.connection import pool_for

    if settings.database_url is None:
        raise ConfigError("VERBATIM_DATABASE_URL: not set, so there is no database to open.")
    return pool_for(
        settings.database_url.get_secret_value(), wait_seconds=settings.database_wait_seconds
    )


def open_store(
    settings: EngineSettings,
    model_id: str,
    *,
    tenant: str = SHARED_TENANT,
    with_shared: bool = False,
) -> Store:
    """Return the store the settings name: Postgres when a database URL is set, else files."""
    # `tenant` names whose documents these are in a shared database: a server's id, or the
    # shared corpus. The local store keeps each tenant in its own index folder instead.
    # `with_shared`: the server sees the shared corpus. The database's views then read the
    # shared tenant beside the server's (`Store.shows_shared`); a local index is given copies.
    if settings.database_url is not None:
        # Imported only when asked for: a self-hoster on files never loads psycopg.
        from index.storage.postgres.store import PostgresStore

        shared = SHARED_TENANT if with_shared else None
        return PostgresStore(_pool(settings), tenant, model_id=model_id, shared=shared)
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
    from index.storage.postgres.jobs import PostgresJobQueue

    url = settings.database_url.get_secret_value()
    return PostgresJobQueue(_pool(settings), url, lease_seconds=lease_seconds)


def open_shelf(settings: EngineSettings, guilds_root: Path, tenant: str) -> Shelf:
    """Return a server's shelf: rows in the database when one is set, else its folder."""
    if settings.database_url is not None:
        from index.storage.postgres.shelf import PostgresShelf

        return PostgresShelf(_pool(settings), tenant)
    return LocalShelf(guilds_root / tenant)


def open_states(settings: EngineSettings, guilds_root: Path) -> ServerStates:
    """Return where servers keep their small settings: the database, else their folders."""
    if settings.database_url is not None:
        from index.storage.postgres.state import PostgresStates

        return PostgresStates(_pool(settings))
    return LocalStates(guilds_root, lock_timeout=settings.lock_timeout)


def open_votes(
    settings: EngineSettings, feedback_file: Path | None, *, max_bytes: int = FEEDBACK_MAX_BYTES
) -> VoteLog | None:
    """Return where votes go: the database's votes table, else the feedback file (None: nowhere)."""
    if settings.database_url is not None:
        from index.storage.postgres.shelf import PostgresVotes

        return PostgresVotes(_pool(settings))
    return FeedbackFile(feedback_file, max_bytes=max_bytes) if feedback_file else None


def migrate_store(settings: EngineSettings) -> str:
    """Create or upgrade the configured store's schema; return a line saying what it found."""
    if settings.database_url is None:
        return "Nothing to migrate: VERBATIM_DATABASE_URL is not set, so the index is local files."
    from index.storage.postgres.schema import SCHEMA_VERSION

    _pool(settings)
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


def open_gap_table(settings: EngineSettings) -> GapTable | None:
    """Return the database's gap table, or None on local files (each server keeps a file)."""
    if settings.database_url is None:
        return None
    from index.storage.postgres.gaps import PostgresGapTable

    return PostgresGapTable(_pool(settings))
