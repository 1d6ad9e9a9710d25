"""The jobs queue in Postgres: claimed with SKIP LOCKED under a lease, one worker per tenant."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from index.storage.jobs import KINDS, MAX_ATTEMPTS, ClaimedJob, Job, JobKind, JobQueue

log = logging.getLogger(__name__)
# Candidates read per claim: enough to pass over the jobs of servers other workers are changing.
CANDIDATES = 50
CONNECT_SECONDS = 10
# Not the store's writer key ("verbatim:<tenant>"): the store takes that one per transaction
# on other connections, which a session lock of the same key would block for good.
LOCK_PREFIX = "verbatim-jobs:"
COLUMNS = "id, tenant, kind, payload, state, attempts, worker, progress, result, error"
OPEN = "state IN ('queued', 'running')"


def _job(row: tuple[Any, ...], data: bytes | None = None) -> Job:
    """Read a row of COLUMNS into a Job."""
    return Job(
        id=int(row[0]),
        tenant=str(row[1]),
        kind=row[2],
        payload=row[3] or {},
        state=row[4],
        attempts=int(row[5]),
        worker=row[6],
        progress=row[7],
        result=row[8],
        error=row[9],
        data=data,
    )


def _first_line(error: Exception) -> str:
    """Return a database error's first line, never the connection string."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


class PostgresJobQueue(JobQueue):
    """Jobs in the `jobs` table; each claim holds its own connection and its tenant's lock."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        url: str,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.pool, self._url = pool, url
        self.lease_seconds, self.max_attempts = lease_seconds, max_attempts

    def put(
        self,
        tenant: str,
        kind: JobKind,
        payload: Mapping[str, Any],
        data: bytes | None = None,
    ) -> int:
        if kind not in KINDS:
            raise ValueError(f"no such kind of job: {kind!r}")
        with self.pool.connection() as connection:
            row = connection.execute(
                "INSERT INTO jobs (tenant, kind, payload, data) VALUES (%s, %s, %s, %s) "
                "RETURNING id",
                (tenant, kind, Jsonb(dict(payload)), data),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def get(self, job_id: int) -> Job | None:
        with self.pool.connection() as connection:
            row = connection.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE id = %s", (job_id,)
            ).fetchone()
        return _job(row) if row else None

    def prune(self, older_than_days: float) -> int:
        with self.pool.connection() as connection:
            cursor = connection.execute(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') "
                "AND finished_at < now() - make_interval(secs => %s)",
                (older_than_days * 86400,),
            )
        return int(cursor.rowcount)

    def _claimable(self) -> bool:
        """Say whether any job waits or has run out its lease (one cheap pooled query)."""
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' "
                "OR (state = 'running' AND lease_until < now()))"
            ).fetchone()
        return bool(row and row[0])

    def claim(self, worker: str) -> PostgresClaim | None:
        # Idle workers poll with one pooled query; only a likely claim opens a connection.
        if not self._claimable():
            return None
        connection = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_SECONDS)
        try:
            claimed = self._claim_on(connection, worker)
        except BaseException:
            connection.close()
            raise
        if claimed is None:
            connection.close()  # which also lets go of any lock taken on the way
            return None
        return PostgresClaim(connection, claimed, worker, self.lease_seconds)

    def _claim_on(self, connection: psycopg.Connection[Any], worker: str) -> Job | None:
        """Claim the oldest job this worker may run, locking its tenant for the session."""
        passed: set[str] = set()
        with connection.transaction():
            candidates = connection.execute(
                "SELECT id, tenant, attempts FROM jobs "
                "WHERE state = 'queued' OR (state = 'running' AND lease_until < now()) "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (CANDIDATES,),
            ).fetchall()
            for job_id, tenant, attempts in candidates:
                if tenant in passed:
                    continue
                if not self._lock_tenant(connection, tenant, job_id):
                    passed.add(tenant)  # another worker is changing that server
                    continue
                if attempts >= self.max_attempts:
                    self._give_up(connection, job_id, attempts)
                    self._unlock(connection, tenant)
                    continue
                row = connection.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = %s, "
                    "lease_until = now() + make_interval(secs => %s), started_at = now(), "
                    "updated_at = now(), progress = NULL, error = NULL WHERE id = %s "
                    f"RETURNING {COLUMNS}, data",
                    (worker, self.lease_seconds, job_id),
                ).fetchone()
                assert row is not None
                return _job(row[:-1], row[-1])
        return None

    def _lock_tenant(self, connection: psycopg.Connection[Any], tenant: str, job_id: int) -> bool:
        """Take the tenant's session lock, if no one holds it and no older job of it is open."""
        row = connection.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (LOCK_PREFIX + tenant,)
        ).fetchone()
        if not (row and row[0]):
            return False
        # An older job still open (its worker just died, its lease not yet out) goes first.
        older = connection.execute(
            f"SELECT 1 FROM jobs WHERE tenant = %s AND id < %s AND {OPEN} LIMIT 1",
            (tenant, job_id),
        ).fetchone()
        if older is not None:
            self._unlock(connection, tenant)
            return False
        return True

    def _unlock(self, connection: psycopg.Connection[Any], tenant: str) -> None:
        connection.execute(
            "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (LOCK_PREFIX + tenant,)
        )

    def _give_up(self, connection: psycopg.Connection[Any], job_id: int, attempts: int) -> None:
        """Fail a job whose workers kept stopping mid-way, rather than claim it for ever."""
        log.warning("Job %s stopped its worker %d times; not trying again", job_id, attempts)
        connection.execute(
            "UPDATE jobs SET state = 'failed', data = NULL, lease_until = NULL, "
            "finished_at = now(), updated_at = now(), error = %s WHERE id = %s",
            (
                f"the job was interrupted {attempts} times (its worker stopped mid-way); "
                "nothing was changed",
                job_id,
            ),
        )


class PostgresClaim(ClaimedJob):
    """A claimed job: its connection holds the tenant's lock, a thread renews its lease."""

    def __init__(
        self, connection: psycopg.Connection[Any], job: Job, worker: str, lease_seconds: float
    ) -> None:
        self.job, self._connection, self._worker = job, connection, worker
        self._lease = lease_seconds
        self._lock = threading.Lock()  # the heartbeat and the job's own writes share the line
        self._lost = False
        self._closed = threading.Event()
        self._heartbeat = threading.Thread(
            target=self._renew, name=f"job-{job.id}-lease", daemon=True
        )
        self._heartbeat.start()

    @property
    def lost(self) -> bool:
        return self._lost

    def _renew(self) -> None:
        """Renew the lease three times per lease, until the claim is closed."""
        while not self._closed.wait(self._lease / 3):
            renewal = "lease_until = now() + make_interval(secs => %s)"
            if not self._update(renewal, (self._lease,), renewing=True):
                log.warning("Job %s: lost its claim; another worker will redo it", self.job.id)
                return

    def _update(self, assignments: str, values: tuple[Any, ...], *, renewing: bool = False) -> bool:
        """Update this claim's row if it is still ours; False (and lost) if it is not."""
        with self._lock:
            if renewing and self._closed.is_set():
                return True  # the claim ended while the renewal waited for the line
            if self._lost or self._connection.closed:
                return False
            try:
                cursor = self._connection.execute(
                    f"UPDATE jobs SET {assignments}, updated_at = now() "
                    "WHERE id = %s AND worker = %s AND attempts = %s AND state = 'running'",
                    (*values, self.job.id, self._worker, self.job.attempts),
                )
            except psycopg.Error as error:
                # The connection, and with it the tenant's lock, is gone: the job is not ours.
                log.warning("Job %s: the database went away (%s)", self.job.id, _first_line(error))
                self._lost = True
                return False
            if cursor.rowcount != 1:
                self._lost = True
            return not self._lost

    def progress(self, phase: str, done: int = 0, total: int = 0, line: str = "") -> None:
        state: dict[str, Any] = {"phase": phase, "done": done, "total": total}
        if line:
            state["line"] = line
        self._update("progress = %s", (Jsonb(state),))

    def finish(self, result: Mapping[str, Any]) -> bool:
        return self._end(
            "state = 'done', result = %s, data = NULL, lease_until = NULL, finished_at = now()",
            (Jsonb(dict(result)),),
        )

    def fail(self, error: str) -> bool:
        return self._end(
            "state = 'failed', error = %s, data = NULL, lease_until = NULL, finished_at = now()",
            (error,),
        )

    def hand_back(self) -> None:
        self._end("state = 'queued', worker = NULL, lease_until = NULL, progress = NULL", ())
        self._lost = True  # the job is the queue's again: what is left of this run must stop

    def _end(self, assignments: str, values: tuple[Any, ...]) -> bool:
        """Write the claim's last update, then let it go."""
        # The heartbeat stops first, so that it never finds the row no longer running.
        self._closed.set()
        try:
            return self._update(assignments, values)
        finally:
            self.close()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            # Closing the session lets go of the tenant's lock too.
            self._connection.close()
