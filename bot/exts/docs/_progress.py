"""Indexing progress shown in a deferred reply, fed from the engine's threads."""

from __future__ import annotations

import asyncio
import contextlib

import discord

from index import ProgressUpdate

# Seconds between edits of the reply: each edit is a call to Discord's API.
PROGRESS_EVERY = 1.0


def progress_text(update: ProgressUpdate) -> str:
    """Say where indexing stands, e.g. "Embedding: 2,048/9,000 sentence windows (23%) · 81/s…"."""
    return f"{update.describe()}…"


class Progress:
    """Edit a deferred reply with indexing progress, at most once a second, from any thread."""

    def __init__(self, interaction: discord.Interaction, loop: asyncio.AbstractEventLoop) -> None:
        self.interaction = interaction
        self.loop = loop
        self.latest: ProgressUpdate | None = None
        self.changed = asyncio.Event()

    def __call__(self, update: ProgressUpdate) -> None:
        """Report progress (called in an engine thread: hand the update to the event loop)."""
        self.loop.call_soon_threadsafe(self._update, update)

    def _update(self, update: ProgressUpdate) -> None:
        """Keep the latest update and wake the editor."""
        self.latest = update
        self.changed.set()

    async def run(self) -> None:
        """Edit the reply whenever the numbers change, until cancelled."""
        while True:
            await self.changed.wait()
            self.changed.clear()
            if self.latest is None:
                continue
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.edit_original_response(content=progress_text(self.latest))
            await asyncio.sleep(PROGRESS_EVERY)
