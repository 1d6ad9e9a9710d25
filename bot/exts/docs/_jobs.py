"""A /docs change run as a job: its progress shown in the reply, its result told in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import discord

from bot.exts.docs._progress import PROGRESS_EVERY
from bot.ui import NO_PINGS
from index import Job, JobQueue

log = logging.getLogger(__name__)
# An interaction's token lives 15 minutes; past this, the result goes to the channel instead.
TOKEN_SECONDS = 14 * 60.0
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
    line = (job.progress or {}).get("line")
    # The worker's own words for each phase, as an in-process change shows them.
    return f"{line}…" if line else "Storing and indexing…"


class JobReply:
    """The deferred reply of a /docs change that runs as a job, while its token lives."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        # Timed from arrival on this process's clock, not the interaction's snowflake: the
        # two hosts' clocks may disagree, and the reply must not outlive the token.
        self.arrived = time.monotonic()

    def token_alive(self) -> bool:
        """Say whether the interaction's token may still edit the reply."""
        return time.monotonic() - self.arrived < TOKEN_SECONDS

    async def follow(self, queue: JobQueue, job_id: int) -> Job | None:
        """Edit the reply with the job's progress until it is finished; None if out of touch."""
        shown: str | None = None
        failing_since: float | None = None
        while True:
            try:
                job = await asyncio.to_thread(queue.get, job_id)
            except Exception as error:
                if failing_since is None:
                    log.warning("Cannot read job %s (%s); retrying", job_id, type(error).__name__)
                    failing_since = time.monotonic()
                elif time.monotonic() - failing_since > OUT_OF_TOUCH_SECONDS:
                    await self.tell(LOST_TOUCH)
                    return None
                await asyncio.sleep(PROGRESS_EVERY * 2)
                continue
            failing_since = None
            if job is None:  # deleted from under us: nothing more can be said
                await self.tell(LOST_TOUCH)
                return None
            if job.finished:
                return job
            text = progress_text(job)
            if text != shown and self.token_alive():
                shown = text
                with contextlib.suppress(discord.HTTPException):
                    await self.interaction.edit_original_response(
                        content=text, allowed_mentions=NO_PINGS
                    )
            await asyncio.sleep(PROGRESS_EVERY)

    async def tell(self, text: str) -> None:
        """Put the result in the reply, or in the channel once the token has expired."""
        interaction = self.interaction
        if self.token_alive():
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
