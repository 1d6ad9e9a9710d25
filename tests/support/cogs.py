"""Find a running bot's cog by its class's name."""

from __future__ import annotations

from typing import Any, TypeVar, cast

T = TypeVar("T")


def running_cog(bot: Any, kind: type[T]) -> T:
    """Return the bot's cog of this class, matched by name rather than by isinstance."""
    # A bot that closed earlier in the session unloaded its extensions, and discord.py then
    # imports their modules afresh: the running cog's class is a new object of the same name.
    cog = bot.get_cog(kind.__name__)
    assert cog is not None and type(cog).__qualname__ == kind.__qualname__
    return cast(T, cog)
