"""Pages added by link, fetched again on a schedule: what is due, and what each fetch does."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from index.storage.state import ServerStates, State

KEY = "refresh"
EVERY = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
REFRESH_CHOICES = ("daily", "weekly", "never")
# A claimed page is another process's to fetch for this long; then it is due again.
LEASE = timedelta(minutes=30)
# Pages of one server claimed in one pass, so that all are fetched well within their lease.
CLAIM_AT_ONCE = 10
# A failed fetch is tried again sooner than the schedule's next: after 1 h, 2 h, 3 h...
RETRY = timedelta(hours=1)
FLAG_AFTER = 3  # failures in a row that flag the page in /docs list (it is kept)
GONE_AFTER = 3  # 404s or 410s in a row that remove the document
GONE = frozenset({404, 410})

Outcome = Literal["unchanged", "changed", "failed", "gone"]


def stamp(moment: datetime) -> str:
    """Write a time as ISO-8601 UTC to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    """Read a time written by `stamp`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Page:
    """A page added by link: where to fetch it again, how often, and its last validators."""

    url: str
    every: str  # "daily" or "weekly"
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Refetch:
    """What fetching a page again found."""

    outcome: Outcome
    etag: str | None = None
    last_modified: str | None = None
    sha256_text: str | None = None
    error: str | None = None


def refetch_judged(
    entry: Mapping[str, Any], *, not_modified: bool, sha256_text: str | None
) -> Outcome:
    """Say whether a fetched page changed: a 304 or the same extracted text is unchanged."""
    if not_modified or sha256_text == entry.get("sha256_text"):
        return "unchanged"
    return "changed"


def refetch_failed(error: str, status: int | None) -> Refetch:
    """Return the result of a fetch that failed, a 404 or 410 counting as gone."""
    return Refetch("gone" if status in GONE else "failed", error=error)


def new_entry(page: Page, *, sha256_text: str, now: datetime) -> dict[str, Any]:
    """Return the schedule of a page just fetched for the first time."""
    return {
        "url": page.url,
        "every": page.every,
        "etag": page.etag,
        "last_modified": page.last_modified,
        "sha256_text": sha256_text,
        "last_fetch": stamp(now),
        "next_fetch": stamp(now + EVERY[page.every]),
        "failures": 0,
        "gone": 0,
        "error": None,
        "claim": None,
    }


def due(entry: Mapping[str, Any], now: datetime) -> bool:
    """Say whether a page should be fetched now (a claimed page's next time is its lease's end)."""
    return parse(str(entry["next_fetch"])) <= now


def claimed(
    schedule: State, now: datetime, token: str, *, limit: int = CLAIM_AT_ONCE
) -> tuple[State, dict[str, Any]]:
    """Claim up to `limit` due pages: push each one's next fetch a lease ahead; return both."""
    taken: dict[str, Any] = {}
    kept = dict(schedule)
    for doc_id, entry in schedule.items():
        if len(taken) < limit and due(entry, now):
            kept[doc_id] = {**entry, "claim": token, "next_fetch": stamp(now + LEASE)}
            taken[doc_id] = kept[doc_id]
    return kept, taken


def settled(
    entry: Mapping[str, Any], fetch: Refetch, now: datetime, *, token: str | None
) -> dict[str, Any] | None:
    """Return the page's schedule after a fetch; None if the claim was lost to another process."""
    # A change already made (the document replaced) is recorded whoever holds the claim.
    if token is not None and entry.get("claim") != token and fetch.outcome != "changed":
        return None
    every = EVERY.get(str(entry.get("every")), EVERY["weekly"])
    after = {**entry, "claim": None, "last_fetch": stamp(now)}
    if fetch.outcome in ("unchanged", "changed"):
        after.update(failures=0, gone=0, error=None, next_fetch=stamp(now + every))
        # A 304 may leave a validator out: the one held stays good.
        after["etag"] = fetch.etag or entry.get("etag")
        after["last_modified"] = fetch.last_modified or entry.get("last_modified")
        if fetch.sha256_text:
            after["sha256_text"] = fetch.sha256_text
        return after
    failures = int(entry.get("failures") or 0) + 1
    gone = int(entry.get("gone") or 0) + 1 if fetch.outcome == "gone" else 0
    retry = min(every, RETRY * failures)
    after.update(failures=failures, gone=gone, error=fetch.error, next_fetch=stamp(now + retry))
    return after


def page_flagged(entry: Mapping[str, Any]) -> bool:
    """Say whether a page has failed often enough in a row to be shown as failing."""
    return int(entry.get("failures") or 0) >= FLAG_AFTER


def page_gone(entry: Mapping[str, Any]) -> bool:
    """Say whether a page answered 404 or 410 often enough in a row to be removed."""
    return int(entry.get("gone") or 0) >= GONE_AFTER


def new_claim_token() -> str:
    """Return a claim's token, unique to one pass of one process."""
    return uuid.uuid4().hex


class PageSchedules:
    """Every server's pages to fetch again, kept in its settings under "refresh"."""

    def __init__(self, states: ServerStates) -> None:
        self.states = states

    def read(self, guild_id: int) -> dict[str, dict[str, Any]]:
        """Return a server's pages by document id."""
        return {doc: dict(entry) for doc, entry in self.states.read(str(guild_id), KEY).items()}

    def servers(self) -> list[int]:
        """Return the servers that have pages to fetch again."""
        return [int(tenant) for tenant in self.states.tenants(KEY)]

    def schedule(self, guild_id: int, doc_id: str, page: Page, *, sha256_text: str) -> None:
        """Start fetching a just-added page again, from its first fetch's validators."""
        entry = new_entry(page, sha256_text=sha256_text, now=datetime.now(UTC))
        self.states.update(str(guild_id), KEY, lambda pages: {**pages, doc_id: entry})

    def claim(self, guild_id: int, now: datetime, token: str) -> dict[str, dict[str, Any]]:
        """Claim a server's due pages in one step no other process interleaves; return them."""
        taken: dict[str, Any] = {}

        def change(pages: State) -> State:
            kept, found = claimed(pages, now, token)
            taken.update(found)
            return kept

        self.states.update(str(guild_id), KEY, change)
        return taken

    def settle(
        self,
        guild_id: int,
        doc_id: str,
        fetch: Refetch,
        now: datetime,
        *,
        token: str | None,
        new_doc_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Record a fetch's result (under the new id of a replaced document); return the entry."""
        after: list[dict[str, Any] | None] = [None]

        def change(pages: State) -> State:
            entry = pages.get(doc_id)
            if entry is None:
                return pages  # removed meanwhile (/docs remove): nothing to record
            after[0] = settled(entry, fetch, now, token=token)
            if after[0] is None:
                return pages
            kept = {key: value for key, value in pages.items() if key != doc_id}
            kept[new_doc_id or doc_id] = after[0]
            return kept

        self.states.update(str(guild_id), KEY, change)
        return after[0]

    def forget(self, guild_id: int, doc_id: str) -> None:
        """Stop fetching a document's page (it was removed)."""
        if doc_id not in self.states.read(str(guild_id), KEY):
            return  # most documents have no schedule: no write, no lock
        self.states.update(
            str(guild_id), KEY, lambda pages: {k: v for k, v in pages.items() if k != doc_id}
        )
