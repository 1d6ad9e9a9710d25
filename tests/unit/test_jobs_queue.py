"""The jobs queue on a real Postgres: claims, leases, redoing, one worker per server, progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from index import EngineSettings, JobQueue, open_jobs
from tests.support.timing import WAIT_SECONDS


def queue_on(database_url: str, lease_seconds: float = 30.0) -> JobQueue:
    queue = open_jobs(EngineSettings(database_url=database_url), lease_seconds=lease_seconds)
    assert queue is not None
    return queue


def sql(database_url: str, statement: str, *values: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        cursor = connection.execute(statement.encode(), values)
        return cursor.fetchall() if cursor.description else []


def expire(database_url: str, job_id: int) -> None:
    """Make a job's lease run out now, as it would once its worker stopped renewing it."""
    sql(
        database_url,
        "UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = %s",
        job_id,
    )


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_no_database_means_no_queue() -> None:
    assert open_jobs(EngineSettings()) is None


def test_a_job_is_claimed_by_one_worker_and_carries_its_file(database_url: str) -> None:
    queue = queue_on(database_url)
    job_id = queue.put("42", "add", {"title": "Tea"}, b"tea leaves")
    assert queue.get(job_id).state == "queued"  # type: ignore[union-attr]
    claim = queue.claim("w1")
    assert claim is not None
    assert (claim.job.id, claim.job.state, claim.job.attempts) == (job_id, "running", 1)
    assert claim.job.data == b"tea leaves" and claim.job.payload == {"title": "Tea"}
    assert queue.claim("w2") is None  # running under a live lease: nobody else takes it
    polled = queue.get(job_id)
    assert polled is not None and polled.worker == "w1" and polled.data is None
    claim.close()


def test_progress_and_the_result_come_back_through_the_row(database_url: str) -> None:
    queue = queue_on(database_url)
    first = queue.put("1", "add", {}, b"x")
    second = queue.put("2", "remove", {"doc_id": "d"})
    with queue.claim("w") as claim:  # type: ignore[union-attr]
        claim.progress("embedding", 3, 10)
        assert queue.get(first).progress == {"phase": "embedding", "done": 3, "total": 10}  # type: ignore[union-attr]
        assert claim.finish({"doc_id": "tea", "sentences": 5}) is True
    done = queue.get(first)
    assert done is not None and done.state == "done" and done.finished
    assert done.result == {"doc_id": "tea", "sentences": 5}
    # The file is dropped once the job is over: the queue does not keep every upload.
    assert sql(database_url, "SELECT data IS NULL FROM jobs WHERE id = %s", first) == [(True,)]
    with queue.claim("w") as claim:  # type: ignore[union-attr]
        assert claim.job.id == second
        assert claim.fail("there is no document 'd' in this server") is True
    failed = queue.get(second)
    assert failed is not None and failed.state == "failed"
    assert failed.error == "there is no document 'd' in this server"


def test_a_job_whose_worker_died_is_claimed_again_once_its_lease_runs_out(
    database_url: str,
) -> None:
    queue = queue_on(database_url)
    job_id = queue.put("7", "reindex", {})
    dead = queue.claim("w1")
    assert dead is not None
    dead.close()  # the worker is gone: no result, no more heartbeats, its session closed
    assert queue.claim("w2") is None  # its lease still runs
    expire(database_url, job_id)
    again = queue.claim("w2")
    assert again is not None and again.job.id == job_id
    assert (again.job.attempts, again.job.worker) == (2, "w2")
    assert again.finish({"embedded": 0}) is True
    assert queue.get(job_id).state == "done"  # type: ignore[union-attr]


def test_a_live_worker_past_its_lease_keeps_its_server(database_url: str) -> None:
    queue = queue_on(database_url)
    job_id = queue.put("7", "reindex", {})
    slow = queue.claim("w1")
    assert slow is not None
    expire(database_url, job_id)
    # Its session still holds the server's lock, so nobody runs the server beside it.
    assert queue.claim("w2") is None
    slow.close()
    taken = queue.claim("w2")
    assert taken is not None and taken.job.id == job_id
    # The first worker's claim is over: its result is not written over the second's run.
    assert slow.finish({"late": True}) is False
    taken.close()


def test_the_heartbeat_renews_the_lease_while_the_job_runs(database_url: str) -> None:
    queue = queue_on(database_url, lease_seconds=0.3)
    job_id = queue.put("9", "reindex", {})
    claim = queue.claim("w1")
    assert claim is not None
    [(first,)] = sql(database_url, "SELECT lease_until FROM jobs WHERE id = %s", job_id)
    wait_until(
        lambda: (
            sql(database_url, "SELECT lease_until FROM jobs WHERE id = %s", job_id)[0][0] > first
        )
    )
    assert not claim.lost
    claim.close()


def test_a_busy_servers_next_job_waits_and_other_servers_go_ahead(database_url: str) -> None:
    queue = queue_on(database_url)
    a1 = queue.put("A", "reindex", {})
    a2 = queue.put("A", "reindex", {})
    b1 = queue.put("B", "reindex", {})
    first = queue.claim("w1")
    assert first is not None and first.job.id == a1
    second = queue.claim("w2")
    assert second is not None and second.job.id == b1  # A is busy: B's job goes first
    assert queue.claim("w3") is None  # A's second job waits for its first
    first.finish({})
    third = queue.claim("w3")
    assert third is not None and third.job.id == a2
    second.close()
    third.close()


def test_a_job_handed_back_is_taken_at_once_by_another_worker(database_url: str) -> None:
    queue = queue_on(database_url)
    job_id = queue.put("5", "reindex", {})
    leaving = queue.claim("w1")
    assert leaving is not None
    leaving.hand_back()
    polled = queue.get(job_id)
    assert polled is not None and (polled.state, polled.worker) == ("queued", None)
    taken = queue.claim("w2")
    assert taken is not None and taken.job.id == job_id and taken.job.attempts == 2
    taken.close()


def test_a_job_that_keeps_stopping_its_workers_fails_with_a_reason(database_url: str) -> None:
    queue = queue_on(database_url)
    job_id = queue.put("3", "add", {}, b"huge")
    for _ in range(3):
        claim = queue.claim("w")
        assert claim is not None and claim.job.id == job_id
        claim.close()
        expire(database_url, job_id)
    assert queue.claim("w") is None
    failed = queue.get(job_id)
    assert failed is not None and failed.state == "failed"
    assert failed.error is not None and "interrupted 3 times" in failed.error


def test_old_finished_jobs_are_pruned_and_open_ones_kept(database_url: str) -> None:
    queue = queue_on(database_url)
    old = queue.put("1", "reindex", {})
    with queue.claim("w") as claim:  # type: ignore[union-attr]
        claim.finish({})
    waiting = queue.put("1", "reindex", {})
    sql(database_url, "UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = %s", old)
    assert queue.prune(7) == 1
    assert queue.get(old) is None and queue.get(waiting) is not None


def test_an_unknown_kind_of_job_is_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="no such kind"):
        queue_on(database_url).put("1", "delete-everything", {})  # type: ignore[arg-type]


def test_two_claimers_never_run_the_same_server_at_once(database_url: str) -> None:
    queue = queue_on(database_url)
    servers = ["A", "B", "C"]
    put = {server: [queue.put(server, "reindex", {}) for _ in range(4)] for server in servers}
    running: dict[str, str] = {}
    overlaps: list[str] = []
    ran: dict[str, list[int]] = {server: [] for server in servers}
    guard = threading.Lock()
    total = sum(len(ids) for ids in put.values())

    def worker(name: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with guard:
                if sum(len(ids) for ids in ran.values()) == total:
                    return
            claim = queue.claim(name)
            if claim is None:
                time.sleep(0.01)
                continue
            server = claim.job.tenant
            with guard:
                if server in running:
                    overlaps.append(f"{name} and {running[server]} both ran {server}")
                running[server] = name
                ran[server].append(claim.job.id)
            time.sleep(0.03)  # the job's work, long enough for the others to try the server
            with guard:
                del running[server]
            claim.finish({})

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert ran == put  # every job ran once, each server's in the order they were put
    states = sql(database_url, "SELECT DISTINCT state FROM jobs")
    assert states == [("done",)]
