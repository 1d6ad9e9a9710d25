"""Indexing progress shown in a deferred reply, fed from the engine's threads."""

from __future__ import annotations

import asyncio
import contextlib

import discord

# Seconds between edits of the reply: each edit is a call to Discord's API.
PROGRESS_EVERY = 1.0


def embedding_text(done: int, total: int) -> str:
    """Say how many sentences are embedded so far."""
    return f"Embedding {done}/{total} sentences…"


class Progress:
    """Edit a deferred reply with indexing progress, at most once a second, from any thread."""

    def __init__(self, interaction: discord.Interaction, loop: asyncio.AbstractEventLoop) -> None:
        self.interaction = interaction
        self.loop = loop
        self.done = self.total = 0
        self.changed = asyncio.Event()

    def __call__(self, done: int, total: int) -> None:
        """Report progress (called in an engine thread: hand the numbers to the event loop)."""
        self.loop.call_soon_threadsafe(self._update, done, total)

    def _update(self, done: int, total: int) -> None:
        """Keep the latest numbers and wake the editor."""
        self.done, self.total = done, total
        self.changed.set()

    async def run(self) -> None:
        """Edit the reply whenever the numbers change, until cancelled."""
        while True:
            await self.changed.wait()
            self.changed.clear()
            text = embedding_text(self.done, self.total)
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.edit_original_response(content=text)
            await asyncio.sleep(PROGRESS_EVERY)
