"""A server's gap log: the questions its documents could not answer, kept for a number of days."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from index.errors import DatabaseUnavailable
from index.results import Answer
from index.settings import EngineSettings
from index.storage.factory import open_gap_table
from index.storage.rows import GapRow, GapTable

GAP_LOG = "gaps.jsonl"
ABSTAINED = "abstained"
THUMBS_DOWN = "thumbs_down"
DEFAULT_KEEP_DAYS = 90
# How many of an answer's passages are kept with its question: enough to name the closest document.
KEPT_PASSAGES = 3
# The questions of people who asked: readable by the bot's own user only.
FILE_MODE = 0o600
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """Return the current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Gap:
    """One question the documents did not answer: no user id, only what was asked and found."""

    question: str
    at: datetime
    kind: str  # ABSTAINED, or THUMBS_DOWN on an answer that was given
    passages: tuple[str, ...] = ()  # "document#paragraph" of the closest passages, best first

    def as_json(self) -> dict[str, Any]:
        """Return the shape of one line of the log and of `gaps --json`."""
        return {
            "at": self.at.strftime(TIME_FORMAT),
            "kind": self.kind,
            "question": self.question,
            "passages": list(self.passages),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Gap:
        """Read one line of the log; raise ValueError (or KeyError, TypeError) if it is damaged."""
        # fromisoformat reads "…Z" (3.11) and is far quicker than strptime on a long log.
        at = datetime.fromisoformat(str(data["at"]))
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        passages = data.get("passages") or []
        if not isinstance(passages, list):
            raise TypeError("passages is not a list")
        return cls(str(data["question"]), at, str(data["kind"]), tuple(map(str, passages)))

    @property
    def document(self) -> str | None:
        """Return the document of the closest passage, if any."""
        return self.passages[0].rsplit("#", 1)[0] if self.passages else None


def gap_from(answer: Answer, kind: str, at: datetime | None = None) -> Gap:
    """Make the gap of an abstention (its closest passages) or of a 👎 (the quotes it gave)."""
    quotes = answer.closest if kind == ABSTAINED else tuple(answer.quotes)
    passages = tuple(dict.fromkeys(f"{q.document}#{q.paragraph}" for q in quotes))
    return Gap(answer.question, at or utc_now(), kind, passages[:KEPT_PASSAGES])


class GapLog(Protocol):
    """What a server's gap log does, whatever holds it (a file here; a table, later)."""

    def record(self, gap: Gap) -> None:
        """Keep one gap."""

    def entries(self, *, since: datetime | None = None) -> list[Gap]:
        """Return the kept gaps (those since a time, if given), oldest first."""

    def clear(self) -> int:
        """Drop every gap; return how many there were."""


class _ExpiringLog:
    """The retention both gap logs share: gaps older than `keep_days` are dropped."""

    def __init__(
        self, *, keep_days: int = DEFAULT_KEEP_DAYS, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.keep_days, self.clock = keep_days, clock

    @property
    def cutoff(self) -> datetime:
        """Return the time before which gaps are dropped."""
        return self.clock() - timedelta(days=self.keep_days)


class JsonlGapLog(_ExpiringLog):
    """One JSON object a line in the server's folder; entries past `keep_days` are dropped."""

    def __init__(
        self,
        path: Path,
        *,
        keep_days: int = DEFAULT_KEEP_DAYS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(keep_days=keep_days, clock=clock)
        self.path = path
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold this process's lock and the file's, so that the bot and the CLI take turns."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.path.with_name(self.path.name + ".lock"), os.O_CREAT | os.O_RDWR)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield
            finally:
                os.close(handle)  # closing releases the lock

    def record(self, gap: Gap) -> None:
        """Append a gap (dropping expired ones first, when the oldest has expired)."""
        line = (json.dumps(gap.as_json(), ensure_ascii=False) + "\n").encode("utf-8")
        with self._locked():
            oldest = self._read(limit=1)
            if oldest and oldest[0].at < self.cutoff:
                self._rewrite([g for g in self._read() if g.at >= self.cutoff])
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                written = os.write(handle, line)
                if written != len(line):
                    raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
            finally:
                os.close(handle)

    def entries(self, *, since: datetime | None = None) -> list[Gap]:
        """Return the unexpired gaps since a time, oldest first; the expired ones are dropped."""
        if not self.path.exists():
            return []  # reading creates nothing, not even the server's folder
        with self._locked():
            gaps = self._read()
            kept = [g for g in gaps if g.at >= self.cutoff]
            if len(kept) < len(gaps):
                self._rewrite(kept)
        return [g for g in kept if since is None or g.at >= since]

    def clear(self) -> int:
        """Empty the log; return how many gaps it held."""
        if not self.path.exists():
            return 0
        with self._locked():
            count = len(self._read())
            self.path.unlink(missing_ok=True)
        return count

    def _read(self, limit: int | None = None) -> list[Gap]:
        """Read the gaps, skipping (and logging once) lines that are damaged."""
        gaps: list[Gap] = []
        damaged = 0
        try:
            with self.path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        gaps.append(Gap.from_json(json.loads(line)))
                    except (ValueError, KeyError, TypeError):
                        damaged += 1  # e.g. a line cut short by a full disk
                    if limit is not None and len(gaps) >= limit:
                        break
        except FileNotFoundError:
            return []
        if damaged:
            log.warning("Skipped %d damaged line(s) of %s", damaged, self.path)
        return gaps

    def _rewrite(self, gaps: list[Gap]) -> None:
        """Replace the file with these gaps, atomically."""
        staged = self.path.with_name(f".{self.path.name}.staged")
        data = "".join(json.dumps(g.as_json(), ensure_ascii=False) + "\n" for g in gaps)
        handle = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(handle, data.encode("utf-8"))
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(staged, self.path)


class TableGapLog(_ExpiringLog):
    """A server's rows in the database's gap table; rows past `keep_days` are deleted."""

    def __init__(
        self,
        table: GapTable,
        tenant: str,
        *,
        keep_days: int = DEFAULT_KEEP_DAYS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(keep_days=keep_days, clock=clock)
        self.table, self.tenant = table, tenant

    def record(self, gap: Gap) -> None:
        """Keep a gap, and drop the server's expired ones."""
        self.table.insert(self.tenant, GapRow(gap.at, gap.kind, gap.question, gap.passages))
        self.table.delete(self.tenant, before=self.cutoff)

    def entries(self, *, since: datetime | None = None) -> list[Gap]:
        """Return the unexpired gaps since a time, oldest first; the expired ones are deleted."""
        cutoff = self.cutoff
        self.table.delete(self.tenant, before=cutoff)  # as the file does: kept no longer than said
        start = cutoff if since is None else max(since, cutoff)
        rows = self.table.rows(self.tenant, since=start)
        return [Gap(r.question, r.at.astimezone(UTC), r.kind, r.passages) for r in rows]

    def clear(self) -> int:
        """Empty the server's log; return how many gaps it held."""
        return self.table.delete(self.tenant)


def open_gap_logs(
    settings: EngineSettings,
    folder_of: Callable[[int], Path],
    *,
    enabled: bool = True,
    keep_days: int = DEFAULT_KEEP_DAYS,
    clock: Callable[[], datetime] = utc_now,
) -> GapLogs:
    """Return every server's gap log: rows in the database when one is set, else files."""
    table = open_gap_table(settings)
    if table is None:
        return GapLogs(folder_of, enabled=enabled, keep_days=keep_days, clock=clock)
    found = table

    def opener(guild_id: int) -> GapLog:
        return TableGapLog(found, str(guild_id), keep_days=keep_days, clock=clock)

    return GapLogs(folder_of, enabled=enabled, keep_days=keep_days, clock=clock, opener=opener)


class GapLogs:
    """Every server's gap log; questions in DMs (no server, no admins to read them) are not kept."""

    def __init__(
        self,
        folder_of: Callable[[int], Path],
        *,
        enabled: bool = True,
        keep_days: int = DEFAULT_KEEP_DAYS,
        clock: Callable[[], datetime] = utc_now,
        opener: Callable[[int], GapLog] | None = None,
    ) -> None:
        self.folder_of = folder_of
        self.enabled = enabled
        self.keep_days = keep_days
        self.clock = clock
        # Another store (a database table) plugs in here; the default is a file per server.
        self.opener = opener or self._file_log
        self._logs: dict[int, GapLog] = {}
        self._lock = threading.Lock()

    def for_guild(self, guild_id: int) -> GapLog:
        """Return a server's log (one object per server, so that its writes take turns)."""
        with self._lock:
            found = self._logs.get(guild_id)
            if found is None:
                found = self._logs[guild_id] = self.opener(guild_id)
            return found

    def _file_log(self, guild_id: int) -> GapLog:
        """Open the server's gaps.jsonl, in its folder."""
        path = self.folder_of(guild_id) / GAP_LOG
        return JsonlGapLog(path, keep_days=self.keep_days, clock=self.clock)

    def record(self, guild_id: int | None, answer: Answer, kind: str) -> bool:
        """Keep an abstention or a 👎 in its server's log; False when nothing was kept."""
        if not self.enabled or guild_id is None:
            return False
        if kind == THUMBS_DOWN and not answer.answered:
            return False  # its abstention was kept when it happened
        try:
            self.for_guild(guild_id).record(gap_from(answer, kind, self.clock()))
        except (OSError, DatabaseUnavailable) as error:
            # Answering matters more than the report: say so in the log and go on.
            log.error("Could not record a gap for server %s: %s", guild_id, error)
            return False
        return True
