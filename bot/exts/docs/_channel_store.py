"""Store a channel document's new version: in this process, or as jobs when there is a database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.client import VerbatimBot
from bot.exts.docs._progress import PROGRESS_EVERY
from index import (
    Added,
    ChannelMessage,
    IngestError,
    Job,
    JobQueue,
    ProgressUpdate,
    channel_payload,
    channel_text,
    prepare,
    put_add,
    put_remove,
)

# Runs a change that may report progress in the engine's threads, and returns its result.
Listener = Callable[[ProgressUpdate], None]
Runner = Callable[[Callable[[Listener | None], Added]], Awaitable[Added]]
Waiter = Callable[[int], Awaitable[Job | None]]


@dataclass(frozen=True)
class Saved:
    """A channel document as stored now: its id (None: no message left), paragraphs, sentences."""

    doc_id: str | None
    paragraphs: int
    sentences: int


async def poll_job(queue: JobQueue, job_id: int) -> Job | None:
    """Wait for a job to finish, with no reply to show its progress in."""
    while True:
        job = await asyncio.to_thread(queue.get, job_id)
        if job is None or job.finished:
            return job
        await asyncio.sleep(PROGRESS_EVERY)


def _done(job: Job | None, what: str) -> Job:
    if job is None or job.state != "done" or job.result is None:
        error = job.error if job is not None else None
        raise IngestError(f"{what} did not complete ({error or 'the job was lost'})")
    return job


async def save_channel(
    bot: VerbatimBot,
    guild_id: int,
    doc_id: str | None,
    title: str,
    source_url: str,
    messages: Sequence[ChannelMessage],
    *,
    by: str,
    run: Runner,
    wait: Waiter,
) -> Saved:
    """Put the channel's messages in place of its document (removing it when none are left)."""
    library, queue = bot.library, bot.jobs
    if not channel_text(messages).text:
        if doc_id is not None:
            await _remove(bot, queue, guild_id, doc_id, title, by, wait)
        return Saved(None, 0, 0)
    data = channel_payload(title, source_url, messages)
    prepared = await bot.run_engine(prepare, data, filename="channel.md", title=title)
    if queue is None:
        if doc_id is None:
            added = await run(
                lambda progress: library.add(
                    guild_id, prepared, added_by=by, source_url=source_url, progress=progress
                )
            )
        else:
            old = doc_id
            added = await run(
                lambda progress: library.replace(
                    guild_id, old, prepared, added_by=by, source_url=source_url, progress=progress
                )
            )
        return Saved(added.entry.doc_id, added.paragraphs, added.sentences)
    # Any process may run the jobs: the new version is added, then the old one removed.
    job_id = await asyncio.to_thread(
        put_add, queue, guild_id, prepared, added_by=by, source_url=source_url
    )
    result = _done(await wait(job_id), "adding the new version").result or {}
    if doc_id is not None:
        await _remove(bot, queue, guild_id, doc_id, title, by, wait)
    return Saved(str(result["doc_id"]), int(result["paragraphs"]), int(result["sentences"]))


async def _remove(
    bot: VerbatimBot,
    queue: JobQueue | None,
    guild_id: int,
    doc_id: str,
    title: str,
    by: str,
    wait: Waiter,
) -> None:
    """Remove the old version of a channel document."""
    if queue is None:
        await bot.run_engine(lambda: bot.library.remove(guild_id, doc_id, removed_by=by))
        return
    job_id = await asyncio.to_thread(
        put_remove, queue, guild_id, doc_id, title=title, removed_by=by
    )
    _done(await wait(job_id), "removing the old version")
