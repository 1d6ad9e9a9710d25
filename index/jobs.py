"""Indexing jobs: put by /docs, run through a Library by any process, redone whole if cut off."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from index.corpus.ingest import Prepared
from index.errors import ConfigError, IngestError
from index.library import Library
from index.refresh import Page, Refetch
from index.storage.jobs import ClaimedJob, Job, JobQueue
from index.text.progress import ProgressListener, ProgressUpdate

log = logging.getLogger(__name__)
# Seconds between progress writes to a job's row (each is an UPDATE; the reply edits once a second).
PROGRESS_EVERY = 0.5
# Finished jobs are kept this long for a look with SQL, then deleted by the workers.
KEEP_DAYS = 7.0
PRUNE_EVERY = 3600.0
MAX_BACKOFF = 30.0


def worker_name(role: str) -> str:
    """Name this process in the jobs it claims: its role, host and process id."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def put_add(
    queue: JobQueue,
    guild_id: int,
    prepared: Prepared,
    *,
    added_by: str,
    source_url: str | None = None,
    page: Page | None = None,
) -> int:
    """Queue adding a prepared document to a server; return the job's id."""
    payload = {
        **_prepared_fields(prepared),
        "added_by": added_by,
        "source_url": source_url,
        "page": None if page is None else vars(page),
    }
    return queue.put(str(guild_id), "add", payload, prepared.payload)


def put_refresh(
    queue: JobQueue,
    guild_id: int,
    doc_id: str,
    prepared: Prepared,
    fetch: Refetch,
    *,
    token: str | None,
    source_url: str | None,
) -> int:
    """Queue replacing a page's document with the changed text fetched; return the job's id."""
    payload = {
        **_prepared_fields(prepared),
        "doc_id": doc_id,
        "fetch": vars(fetch),
        "token": token,
        "source_url": source_url,
    }
    return queue.put(str(guild_id), "refresh", payload, prepared.payload)


def _prepared_fields(prepared: Prepared) -> dict[str, Any]:
    """Return what a job needs to rebuild a prepared document around its file."""
    return {
        "kind": prepared.kind,
        "suffix": prepared.suffix,
        "title": prepared.title,
        "sha256": prepared.sha256,
        "paragraphs": prepared.paragraphs,
        "name": prepared.name,
        "text_sha256": prepared.text_sha256,
    }


def _prepared(job: Job) -> Prepared:
    """Rebuild the prepared document a job carries."""
    if job.data is None:
        raise IngestError("the job carries no file")
    payload = job.payload
    return Prepared(
        kind=str(payload["kind"]),
        suffix=str(payload["suffix"]),
        payload=job.data,
        title=payload.get("title"),
        sha256=str(payload["sha256"]),
        paragraphs=int(payload["paragraphs"]),
        name=str(payload.get("name") or "document"),
        text_sha256=str(payload.get("text_sha256") or ""),
    )


def put_remove(
    queue: JobQueue,
    guild_id: int,
    doc_id: str,
    *,
    title: str,
    removed_by: str,
    action: str = "remove",
) -> int:
    """Queue removing one of a server's documents; return the job's id."""
    payload = {"doc_id": doc_id, "title": title, "removed_by": removed_by, "action": action}
    return queue.put(str(guild_id), "remove", payload)


def put_reindex(queue: JobQueue, guild_id: int, *, requested_by: str) -> int:
    """Queue re-reading a server's documents; return the job's id."""
    return queue.put(str(guild_id), "reindex", {"requested_by": requested_by})


def summary(job: Job) -> str:
    """Say in a few words what a finished job did, for the log."""
    result = job.result or {}
    if job.state == "failed":
        return f"failed: {job.error}"
    if job.kind == "add":
        return (
            f"added “{result.get('title')}” ({result.get('doc_id')}), "
            f"{result.get('sentences')} sentences"
        )
    if job.kind == "remove":
        return f"removed “{result.get('title')}” ({result.get('doc_id')})"
    if job.kind == "refresh":
        return f"refreshed “{result.get('title')}” (now {result.get('doc_id')})"
    return (
        f"re-indexed: embedded {result.get('embedded')}, reused {result.get('reused')}, "
        f"removed {result.get('removed')}"
    )


class ClaimLost(Exception):
    """The job's claim is no longer this worker's: stop, another worker redoes the job."""


class _ProgressWriter:
    """Write each phase's progress to the job's row, at most every PROGRESS_EVERY seconds."""

    def __init__(self, claim: ClaimedJob) -> None:
        self.claim = claim
        self._last = 0.0

    def __call__(self, update: ProgressUpdate) -> None:
        if self.claim.lost:
            raise ClaimLost(f"job {self.claim.job.id} is no longer this worker's")
        now = time.monotonic()
        # A phase's first and last numbers always go out: they say it started and finished.
        if (
            update.done in (0, update.total)
            or update.finished
            or now - self._last >= PROGRESS_EVERY
        ):
            self._last = now
            # "Embedding", "Splitting sentences": the row names the phase by its first word.
            phase = update.phase.split()[0].lower()
            self.claim.progress(phase, update.done, update.total, update.describe())


class JobRunner:
    """Claim jobs from the queue and run each through the Library, one at a time."""

    def __init__(self, queue: JobQueue, library: Library, *, worker: str) -> None:
        self.queue, self.library, self.worker = queue, library, worker
        self._current: ClaimedJob | None = None
        self._pruned = 0.0

    def run_once(self) -> Job | None:
        """Run the oldest job this worker may take; return its final row, or None if none."""
        claim = self.queue.claim(self.worker)
        if claim is None:
            return None
        self._current = claim
        started = time.monotonic()
        try:
            job = self._run(claim)
        finally:
            self._current = None
            claim.close()
        seconds = time.monotonic() - started
        if job is None:
            log.warning(
                "Job %s (%s, server %s): lost its claim after %.1f s; another worker will redo it",
                claim.job.id,
                claim.job.kind,
                claim.job.tenant,
                seconds,
            )
            return self.queue.get(claim.job.id)
        log.info(
            "Job %s (%s, server %s, attempt %d): %s in %.1f s",
            job.id,
            job.kind,
            job.tenant,
            job.attempts,
            summary(job),
            seconds,
        )
        return job

    def _run(self, claim: ClaimedJob) -> Job | None:
        """Do the job and write its result or error; None if the claim was lost meanwhile."""
        job = claim.job
        claim.progress("started")
        try:
            result = self._do(claim)
        except (IngestError, ConfigError) as error:
            ended = claim.fail(str(error))
        except Exception as error:
            log.exception("Job %s (%s, server %s) failed", job.id, job.kind, job.tenant)
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            ended = claim.fail(f"indexing failed ({first}); try again")
        else:
            ended = claim.finish(result)
        return self.queue.get(job.id) if ended else None

    def _do(self, claim: ClaimedJob) -> Mapping[str, Any]:
        """Carry out the job's change; a redo first looks for what the last attempt did."""
        job = claim.job
        guild_id = int(job.tenant)
        payload = job.payload
        progress = _ProgressWriter(claim)
        if job.kind == "add":
            return self._add(job, guild_id, payload, progress)
        if job.kind == "remove":
            return self._remove(job, guild_id, payload, progress)
        if job.kind == "refresh":
            return self._refresh(job, guild_id, payload)
        report = self.library.reindex(
            guild_id, requested_by=str(payload.get("requested_by", "?")), progress=progress
        )
        return {
            "seconds": round(report.seconds, 3),
            "embedded": len(report.embedded),
            "reused": len(report.reused),
            "removed": len(report.removed),
        }

    def _add(
        self, job: Job, guild_id: int, payload: Mapping[str, Any], progress: ProgressListener
    ) -> Mapping[str, Any]:
        """Add the job's document, or, on a redo, finish what an interrupted add began."""
        prepared = _prepared(job)
        page = Page(**payload["page"]) if payload.get("page") else None
        added_by = str(payload.get("added_by") or "?")
        if job.attempts > 1:
            # The last attempt may have stored the file and died before its index was written:
            # bring the index up to date with what is stored, and the add is complete.
            entry = next(
                (e for e in self.library.entries(guild_id) if e.sha256 == prepared.sha256), None
            )
            if entry is not None:
                self.library.reindex(guild_id, requested_by=added_by, progress=progress)
                if page is not None and entry.doc_id not in self.library.pages.read(guild_id):
                    self.library.pages.schedule(
                        guild_id, entry.doc_id, page, sha256_text=prepared.text_sha256
                    )
                return self._added(guild_id, entry.doc_id, entry.title)
        added = self.library.add(
            guild_id,
            prepared,
            added_by=added_by,
            source_url=payload.get("source_url"),
            progress=progress,
            page=page,
        )
        return {
            "doc_id": added.entry.doc_id,
            "title": added.entry.title,
            "paragraphs": added.paragraphs,
            "sentences": added.sentences,
        }

    def _added(self, guild_id: int, doc_id: str, title: str) -> Mapping[str, Any]:
        """Describe a document the server now serves, from its engine's list."""
        engine = self.library.engine_for(guild_id)
        info = next((s for s in engine.sources() if s.document == doc_id), None)
        if info is None:
            raise IngestError("the document was stored but is not indexed; run /docs reindex")
        return {
            "doc_id": doc_id,
            "title": title,
            "paragraphs": info.paragraphs,
            "sentences": info.sentences,
        }

    def _remove(
        self, job: Job, guild_id: int, payload: Mapping[str, Any], progress: ProgressListener
    ) -> Mapping[str, Any]:
        """Remove the job's document, or, on a redo, finish what an interrupted removal began."""
        doc_id = str(payload["doc_id"])
        removed_by = str(payload.get("removed_by") or "?")
        present = any(e.doc_id == doc_id for e in self.library.entries(guild_id))
        if job.attempts > 1 and not present:
            self.library.reindex(guild_id, requested_by=removed_by, progress=progress)
            return {"doc_id": doc_id, "title": str(payload.get("title") or doc_id)}
        action = str(payload.get("action") or "remove")
        entry = self.library.remove(guild_id, doc_id, removed_by=removed_by, action=action)
        return {"doc_id": entry.doc_id, "title": entry.title}

    def _refresh(self, job: Job, guild_id: int, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Replace a page's document with its changed text (a redo finishes what was begun)."""
        entry = self.library.refresh(
            guild_id,
            str(payload["doc_id"]),
            _prepared(job),
            Refetch(**payload["fetch"]),
            token=payload.get("token"),
            source_url=payload.get("source_url"),
        )
        return {"doc_id": entry.doc_id, "title": entry.title}

    def hand_back(self) -> bool:
        """Put the job being run back in the queue, for a worker that stops now; False if none."""
        claim = self._current
        if claim is None:
            return False
        claim.hand_back()
        return True

    def serve(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        on_job: Callable[[Job], None] | None = None,
    ) -> None:
        """Run jobs until `stop` is set, waiting `poll_seconds` whenever there is none."""
        delay = poll_seconds
        failing = False
        while not stop.is_set():
            try:
                self._prune()
                job = self.run_once()
            except Exception as error:
                # A database that is down or a dropped connection: say so once, then back off.
                if not failing:
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    log.warning("Cannot take jobs (%s); retrying", first[:200])
                failing = True
                stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if failing:
                log.info("Taking jobs again")
            failing, delay = False, poll_seconds
            if job is None:
                stop.wait(poll_seconds)
            elif on_job is not None:
                on_job(job)

    def _prune(self) -> None:
        """Delete long-finished jobs, once an hour at most."""
        now = time.monotonic()
        if self._pruned and now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        removed = self.queue.prune(KEEP_DAYS)
        if removed:
            log.info("Deleted %d job(s) finished over %g days ago", removed, KEEP_DAYS)
