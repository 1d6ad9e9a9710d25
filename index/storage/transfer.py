"""Copy local indexes into the database the settings name, vectors and all, embedding nothing."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from index.errors import ConfigError
from index.settings import EngineSettings
from index.storage.base import SyncReport
from index.storage.factory import SHARED_TENANT
from index.storage.local.store import LocalStore


class Copied(NamedTuple):
    """What copying one local index did: its tenant, its folder and the sync it amounted to."""

    tenant: str
    folder: Path
    report: SyncReport | None  # None: no readable index there
    copied: list[str]


def local_indexes(settings: EngineSettings, guilds_root: Path) -> list[tuple[str, Path]]:
    """Return the shared index and each server's, as (tenant, index folder)."""
    found = [(SHARED_TENANT, settings.index_dir)]
    if guilds_root.is_dir():
        for folder in sorted(guilds_root.iterdir(), key=lambda path: path.name):
            if folder.name.isdigit() and (folder / "index").is_dir():
                found.append((folder.name, folder / "index"))
    return found


def copy_to_database(settings: EngineSettings, guilds_root: Path) -> list[Copied]:
    """Copy every local index into the database as its tenant; an unchanged one is skipped."""
    if settings.database_url is None:
        raise ConfigError(
            "VERBATIM_DATABASE_URL: set it to the PostgreSQL database to copy the index into."
        )
    # Imported only when asked for, as in the factory: without the postgres extra, `import
    # index` must still work.
    from index.storage.postgres.connection import pool_for
    from index.storage.postgres.store import PostgresStore

    pool = pool_for(
        settings.database_url.get_secret_value(), wait_seconds=settings.database_wait_seconds
    )
    copied = []
    for tenant, folder in local_indexes(settings, guilds_root):
        view = LocalStore(folder, model_id=settings.model).view()
        if view is None:
            copied.append(Copied(tenant, folder, None, []))
            continue
        store = PostgresStore(pool, tenant, model_id=settings.model)
        report, documents = store.copy_from(view)
        copied.append(Copied(tenant, folder, report, documents))
    return copied
