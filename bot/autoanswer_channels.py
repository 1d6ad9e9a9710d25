"""Which channels of a server the bot answers in unasked, kept in the server's settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.server_setting import ServerSetting
from index import ServerStates

KEY = "autoanswer"


class AutoAnswerChannels:
    """The auto-answer channels of every server, read through a short cache."""

    def __init__(
        self, states: ServerStates, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.setting = ServerSetting(states, KEY, clock=clock)

    def is_on(self, guild_id: int, channel_id: int) -> bool:
        """Return whether the bot answers unasked in this channel."""
        return str(channel_id) in self.setting.read(guild_id)

    def listed(self, guild_id: int) -> dict[int, dict[str, Any]]:
        """Return the server's auto-answer channels with who turned each on, and when."""
        return {int(channel): dict(info) for channel, info in self.setting.read(guild_id).items()}

    def turn_on(self, guild_id: int, channel_id: int, *, by: str) -> bool:
        """Turn auto-answer on in a channel; return False if it already was."""
        was_on: list[bool] = []

        def change(channels: dict[str, Any]) -> dict[str, Any]:
            was_on.append(str(channel_id) in channels)
            at = datetime.now(UTC).isoformat(timespec="seconds")
            return {
                **channels,
                str(channel_id): channels.get(str(channel_id), {"by": by, "at": at}),
            }

        self.setting.update(guild_id, change)
        return not was_on[0]

    def turn_off(self, guild_id: int, channel_id: int) -> bool:
        """Turn auto-answer off in a channel; return False if it was not on."""
        was_on: list[bool] = []

        def change(channels: dict[str, Any]) -> dict[str, Any]:
            was_on.append(str(channel_id) in channels)
            return {key: value for key, value in channels.items() if key != str(channel_id)}

        self.setting.update(guild_id, change)
        return was_on[0]

    def any_on(self) -> bool:
        """Return whether any server has an auto-answer channel (the bot then reads messages)."""
        return bool(self.setting.servers())
