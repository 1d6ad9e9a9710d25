"""A /docs change run as a job: its progress shown in the reply, its result told in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import discord

from bot.exts.docs._progress import PROGRESS_EVERY, embedding_text
from bot.ui import NO_PINGS
from index import Job, JobQueue

log = logging.getLogger(__name__)
# An interaction's token lives 15 minutes; past this, the result goes to the channel instead.
TOKEN_LIFETIME = timedelta(minutes=14)
# Polling that fails this long in a row gives up following the job (which still runs).
OUT_OF_TOUCH_SECONDS = 60.0
LOST_TOUCH = (
    "I lost touch with the database while your change was queued or running. It may still "
    "complete: check `/docs list` in a minute."
)


def progress_text(job: Job) -> str:
    """Say how far a job has got, in the words the in-process change uses."""
    if job.state == "queued":
        return "Queued: waiting for a worker…"
    progress = job.progress or {}
    total = int(progress.get("total") or 0)
    if progress.get("phase") == "embedding" and total:
        return embedding_text(int(progress.get("done") or 0), total)
    return "Storing and indexing…"


def token_alive(interaction: discord.Interaction) -> bool:
    """Say whether the interaction's token may still edit its reply."""
    return datetime.now(UTC) - interaction.created_at < TOKEN_LIFETIME


async def follow(interaction: discord.Interaction, queue: JobQueue, job_id: int) -> Job | None:
    """Edit the reply with the job's progress until it is finished; None if out of touch."""
    shown: str | None = None
    failing_since: float | None = None
    loop = asyncio.get_running_loop()
    while True:
        try:
            job = await asyncio.to_thread(queue.get, job_id)
        except Exception as error:
            now = loop.time()
            if failing_since is None:
                log.warning("Cannot read job %s (%s); retrying", job_id, type(error).__name__)
                failing_since = now
            elif now - failing_since > OUT_OF_TOUCH_SECONDS:
                return None
            await asyncio.sleep(PROGRESS_EVERY * 2)
            continue
        failing_since = None
        if job is None:
            return None
        if job.finished:
            return job
        text = progress_text(job)
        if text != shown and token_alive(interaction):
            shown = text
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)
        await asyncio.sleep(PROGRESS_EVERY)


async def tell(interaction: discord.Interaction, text: str) -> None:
    """Put the result in the reply, or in the channel once the reply's token has expired."""
    if token_alive(interaction):
        await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)
        return
    # Only the channel's id is needed: the bot may not have the channel in its cache.
    channel = interaction.client.get_partial_messageable(interaction.channel_id or 0)
    try:
        # Named, never pinged: the change took long, and only its requester needs to look.
        await channel.send(
            f"{interaction.user.mention}, your `/docs` change: {text}",
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as error:
        log.warning("Could not post a /docs result in %s: %s", interaction.channel_id, error)
