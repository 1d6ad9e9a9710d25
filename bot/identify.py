"""IDENTIFY in turns across processes: one session start per max_concurrency bucket per 5 s."""

from __future__ import annotations

import asyncio
import logging

from index import ConfigError, LockError, Turn, Turns

log = logging.getLogger("bot.client")

# Discord allows max_concurrency IDENTIFYs per 5 s, one per bucket (shard_id % max_concurrency).
IDENTIFY_WINDOW = 5.0
POLL_SECONDS = 0.25
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


class IdentifyGate:
    """Wait for a shard's bucket, and keep it for the identify window after taking it."""

    def __init__(self, turns: Turns, *, window: float = IDENTIFY_WINDOW) -> None:
        self.turns = turns
        self.window = window
        self._releases: set[asyncio.Task[None]] = set()

    async def wait_turn(self, shard_id: int, max_concurrency: int) -> None:
        """Return once this shard may IDENTIFY: its bucket is free in every process."""
        bucket = shard_id % max(1, max_concurrency)
        waited = False
        while (turn := await self._try_take(shard_id, bucket)) is None:
            if not waited:
                log.info(
                    "Shard %d waits for another IDENTIFY in its bucket (%d of %d) to be 5 s old",
                    shard_id,
                    bucket,
                    max_concurrency,
                )
                waited = True
            await asyncio.sleep(POLL_SECONDS)
        # Held for the whole window after this IDENTIFY, then handed to the next in line.
        task = asyncio.get_running_loop().create_task(self._release_later(turn))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _try_take(self, shard_id: int, bucket: int) -> Turn | None:
        """Try for the bucket's turn, retrying with back-off while the lock cannot be reached."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                return await asyncio.to_thread(self.turns.try_take, bucket)
            except (ConfigError, LockError) as error:
                # Starting without the turn could break Discord's limit for every process.
                log.warning(
                    "Shard %d cannot take its IDENTIFY turn (%s); retrying in %.0f s",
                    shard_id,
                    error,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _release_later(self, turn: Turn) -> None:
        """Release a turn once the identify window has passed (or at once, if cancelled)."""
        try:
            await asyncio.sleep(self.window)
        finally:
            turn.release()
