"""How often an auto-answer channel may hear from the bot, and never twice for one message."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Discord allows 5 messages per 5 s in a channel; staying under it never costs a 429.
DISCORD_BURST = (5, 5.0)
REMEMBERED_MESSAGES = 10_000


class ChannelBudget:
    """Allow at most `per_minute` replies a channel in any 60 s, and Discord's burst limit."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = [(per_minute, 60.0), DISCORD_BURST]
        self.longest = max(seconds for _, seconds in self.limits)  # how long a reply counts
        self.clock = clock
        self._sent: dict[int, deque[float]] = {}

    def room(self, channel_id: int) -> bool:
        """Return whether a reply in the channel now would be within every limit."""
        now = self.clock()
        sent = self._sent.setdefault(channel_id, deque())
        while sent and now - sent[0] >= self.longest:
            sent.popleft()
        return all(
            sum(1 for at in sent if now - at < seconds) < most for most, seconds in self.limits
        )

    def take(self, channel_id: int) -> bool:
        """Count one reply in the channel and return True, or return False if over a limit."""
        if not self.room(channel_id):
            return False
        self._sent[channel_id].append(self.clock())
        return True


class AnsweredOnce:
    """Remember the messages already taken up, so a replayed event gets no second reply."""

    def __init__(self, size: int = REMEMBERED_MESSAGES) -> None:
        self.size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    def first_time(self, message_id: int) -> bool:
        """Return True the first time a message is seen, False ever after (within `size`)."""
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)  # the oldest: a RESUME replays only recent events
        return True
