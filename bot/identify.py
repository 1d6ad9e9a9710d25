"""IDENTIFY in turns across processes: one session start per max_concurrency bucket per 5 s."""

from __future__ import annotations

import asyncio
import logging

from index import Turn, Turns

log = logging.getLogger("bot.client")

# Discord allows max_concurrency IDENTIFYs per 5 s, one per bucket (shard_id % max_concurrency).
IDENTIFY_WINDOW = 5.0
POLL_SECONDS = 0.25


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
        while (turn := await asyncio.to_thread(self.turns.try_take, bucket)) is None:
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

    async def _release_later(self, turn: Turn) -> None:
        """Release a turn once the identify window has passed (or at once, if cancelled)."""
        try:
            await asyncio.sleep(self.window)
        finally:
            turn.release()
