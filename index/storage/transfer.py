"""Copy local indexes into the database the settings name, vectors and all, embedding nothing."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from index.errors import ConfigError
from index.settings import EngineSettings
from index.storage.base import StoreView, SyncReport
from index.storage.factory import SHARED_TENANT
from index.storage.local.shelf import AUDIT_LOG, LocalShelf
from index.storage.local.store import LocalStore

if TYPE_CHECKING:
    from index.storage.postgres.shelf import PostgresShelf

log = logging.getLogger(__name__)


class Copied(NamedTuple):
    """What copying one local index did: its tenant, its folder and the sync it amounted to."""

    tenant: str
    folder: Path
    report: SyncReport | None  # None: no readable index there
    copied: list[str]
    # A server's uploaded files and audit records copied onto its shelf in the database.
    uploads: int = 0
    audit: int = 0


def local_indexes(settings: EngineSettings, guilds_root: Path) -> list[tuple[str, Path]]:
    """Return the shared index and each server's, as (tenant, index folder)."""
    found = [(SHARED_TENANT, settings.index_dir)]
    if guilds_root.is_dir():
        for folder in sorted(guilds_root.iterdir(), key=lambda path: path.name):
            if folder.name.isdigit() and any((folder / n).is_dir() for n in ("index", "corpus")):
                found.append((folder.name, folder / "index"))
    return found


def _own(view: StoreView, shared: StoreView | None) -> set[str]:
    """Return a server index's own documents: not the copies of the shared corpus it holds."""
    copies = (
        {(item.document.doc_id, item.document.content_hash) for item in shared.documents}
        if shared is not None
        else set()
    )
    return {
        item.document.doc_id
        for item in view.documents
        if (item.document.doc_id, item.document.content_hash) not in copies
    }


def _copy_shelf(local: LocalShelf, shelf: PostgresShelf) -> tuple[int, int]:
    """Copy a server folder's files (with who added them and when) and its audit log."""
    uploads = 0
    for entry in local.entries():
        payload = (local.corpus / entry.filename).read_bytes()
        # An entry without a sidecar gets the hash of its bytes: one per file, as /docs keeps.
        sha256 = entry.sha256 or hashlib.sha256(payload).hexdigest()
        uploads += shelf.put(replace(entry, sha256=sha256), payload)
    audit = 0
    path = local.folder / AUDIT_LOG
    if path.is_file() and not shelf.audited():  # once: a second copy adds no duplicates
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                shelf.audit(record)
            except (ValueError, KeyError, TypeError, OSError) as error:
                log.warning("Skipping an audit record of %s: %s", local.tenant, error)
                continue
            audit += 1
    return uploads, audit


def copy_to_database(settings: EngineSettings, guilds_root: Path) -> list[Copied]:
    """Copy every local index and server folder into the database; what is there is skipped."""
    if settings.database_url is None:
        raise ConfigError(
            "VERBATIM_DATABASE_URL: set it to the PostgreSQL database to copy the index into."
        )
    # Imported only when asked for, as in the factory: without the postgres extra, `import
    # index` must still work.
    from index.storage.postgres.connection import pool_for
    from index.storage.postgres.shelf import PostgresShelf
    from index.storage.postgres.store import PostgresStore

    pool = pool_for(
        settings.database_url.get_secret_value(), wait_seconds=settings.database_wait_seconds
    )
    copied = []
    shared: StoreView | None = None
    for tenant, folder in local_indexes(settings, guilds_root):
        view = LocalStore(folder, model_id=settings.model).view()
        uploads = audit = 0
        if tenant != SHARED_TENANT:
            uploads, audit = _copy_shelf(LocalShelf(folder.parent), PostgresShelf(pool, tenant))
        if view is None:
            copied.append(Copied(tenant, folder, None, [], uploads, audit))
            continue
        if tenant == SHARED_TENANT:
            shared = view
        store = PostgresStore(pool, tenant, model_id=settings.model)
        # A server's tenant holds its own documents only: its views read the shared tenant.
        keep = None if tenant == SHARED_TENANT else _own(view, shared)
        report, documents = store.copy_from(view, keep=keep)
        copied.append(Copied(tenant, folder, report, documents, uploads, audit))
    return copied
