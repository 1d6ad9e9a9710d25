"""Auto-answer limits: a per-minute cap and Discord's burst a channel, one reply a message."""

from __future__ import annotations

from bot.autoanswer_limits import AnsweredOnce, ChannelBudget


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_per_minute_cap_holds_and_frees_up_after_a_minute() -> None:
    clock = Clock()
    budget = ChannelBudget(3, clock=clock)
    assert [budget.take(1) for _ in range(4)] == [True, True, True, False]
    assert budget.take(2)  # another channel has its own budget
    clock.now += 59.0
    assert not budget.take(1)
    clock.now += 1.0
    assert budget.take(1)


def test_discord_burst_limit_applies_under_a_higher_cap() -> None:
    clock = Clock()
    budget = ChannelBudget(60, clock=clock)
    assert sum(budget.take(1) for _ in range(10)) == 5
    clock.now += 5.0
    assert budget.take(1)


def test_a_message_is_taken_up_once_and_old_ones_are_forgotten() -> None:
    once = AnsweredOnce(size=2)
    assert once.first_time(1)
    assert not once.first_time(1)
    assert once.first_time(2) and once.first_time(3)
    assert once.first_time(1)  # forgotten once two newer ones were seen
