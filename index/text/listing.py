"""Join a list for a message without outgrowing Discord's 2,000-character limit."""

from __future__ import annotations

from collections.abc import Sequence

MESSAGE_BUDGET = 1500
ITEM_LIMIT = 200


def capped_list(items: Sequence[str], *, budget: int = MESSAGE_BUDGET, hint: str = "") -> str:
    """Join items with commas, ending "… and N more; HINT" once `budget` characters are used."""
    shown: list[str] = []
    used = 0
    for position, whole in enumerate(items):
        item = whole if len(whole) <= ITEM_LIMIT else whole[: ITEM_LIMIT - 1] + "…"
        if used + len(item) + 2 > budget and shown:
            tail = f"… and {len(items) - position} more"
            return ", ".join(shown) + ", " + tail + (f"; {hint}" if hint else "")
        shown.append(item)
        used += len(item) + 2
    return ", ".join(shown)
