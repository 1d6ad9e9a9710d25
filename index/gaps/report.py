"""Group a server's unanswered questions by meaning: what its documents miss, biggest first."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from index.engine import Engine
from index.gaps.log import TIME_FORMAT, Gap, GapLog
from index.retrieval.encoder import Encoder

# Average-linkage cosine distance below which questions are one group: paraphrases of one
# question sit well inside it with MiniLM, different questions on one topic mostly outside.
GROUP_DISTANCE = 0.4
EXAMPLES = 3
# Questions clustered by full linkage at once: its distance matrix (and time) grow with the
# square of this (2,000: 16 MB); the others join these groups (see _labels).
CORE = 2000
# Above this many distinct questions, the rarest are listed in the CSV but not grouped.
MAX_GROUPED = 20_000


@dataclass(frozen=True)
class GapGroup:
    """Questions that ask the same thing: how often, a few examples, the document nearest."""

    number: int
    count: int
    examples: tuple[str, ...]
    document: str | None
    title: str | None

    def as_json(self) -> dict[str, Any]:
        """Return the shape of `gaps --json`."""
        return {
            "group": self.number,
            "count": self.count,
            "examples": list(self.examples),
            "document": self.document,
            "title": self.title,
        }


@dataclass(frozen=True)
class GapReport:
    """A server's gaps over some days: the groups by count, and every gap with its group."""

    days: int | None
    groups: tuple[GapGroup, ...]
    gaps: tuple[tuple[Gap, int | None], ...]  # oldest first; None: beyond MAX_GROUPED

    @property
    def total(self) -> int:
        return len(self.gaps)

    def as_json(self) -> dict[str, Any]:
        """Return the shape of `gaps --json`: the groups, then the full list."""
        return {
            "days": self.days,
            "total": self.total,
            "groups": [group.as_json() for group in self.groups],
            "gaps": [{**gap.as_json(), "group": number} for gap, number in self.gaps],
        }

    def csv(self) -> str:
        """Return the full list as CSV: time, kind, group, question, closest passages."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["time", "kind", "group", "question", "closest_passages"])
        for gap, number in self.gaps:
            writer.writerow(
                [
                    gap.at.strftime(TIME_FORMAT),
                    gap.kind,
                    "" if number is None else number,
                    _spreadsheet_safe(gap.question),
                    " ".join(gap.passages),
                ]
            )
        return out.getvalue()


def _spreadsheet_safe(text: str) -> str:
    """Keep a spreadsheet from running a question as a formula ("=HYPERLINK(...)")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _key(question: str) -> str:
    """Return what makes two questions the same question: case and spacing aside."""
    return re.sub(r"\s+", " ", question).strip().casefold()


class _Vectors:
    """Questions embedded for earlier reports, so that the next one embeds only new ones."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, encoder: Encoder, texts: list[str]) -> np.ndarray:
        """Return the texts' vectors, embedding those not kept from before."""
        with self._lock:
            found = {t: self._kept.get((encoder.model_id, encoder.dimension, t)) for t in texts}
        missing = [t for t, vector in found.items() if vector is None]
        if missing:
            for text, vector in zip(missing, np.asarray(encoder.encode(missing)), strict=True):
                found[text] = vector
        with self._lock:
            for text in texts:
                self._kept[(encoder.model_id, encoder.dimension, text)] = found[text]  # type: ignore[assignment]
                self._kept.move_to_end((encoder.model_id, encoder.dimension, text))
            while len(self._kept) > self.limit:
                self._kept.popitem(last=False)
        return np.stack([found[t] for t in texts]).astype(np.float32)  # type: ignore[misc]


# 20,000 vectors of MiniLM's 384 floats: 30 MB, shared by every server's reports.
_embedded = _Vectors(limit=MAX_GROUPED)


def _wording(gaps: list[Gap]) -> str:
    """Return the way a question was most often written (the latest, among equals)."""
    counts = Counter(gap.question for gap in gaps)
    return max(reversed(gaps), key=lambda gap: counts[gap.question]).question


def _cosine_distances(vectors: np.ndarray, block: int = 512) -> np.ndarray:
    """Return the condensed cosine distances of unit vectors (scipy's pdist order), by BLAS."""
    # pdist's own cosine loop is several times slower than these matrix products.
    count = len(vectors)
    unit = vectors.astype(np.float32)
    condensed = np.empty(count * (count - 1) // 2, dtype=np.float64)
    position = 0
    for start in range(0, count, block):
        similarities = unit[start : start + block] @ unit[start:].T
        for offset, row in enumerate(similarities):
            tail = row[offset + 1 :]
            condensed[position : position + len(tail)] = tail
            position += len(tail)
    np.subtract(1.0, condensed, out=condensed)
    return np.clip(condensed, 0.0, 2.0, out=condensed)


def _linkage_labels(vectors: np.ndarray) -> np.ndarray:
    """Cluster unit vectors by average-linkage cosine distance (scipy); labels from 0."""
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage  # imported lazily: only reports need it

    tree = linkage(_cosine_distances(vectors), method="average")
    labels: np.ndarray = fcluster(tree, t=GROUP_DISTANCE, criterion="distance") - 1
    return labels


def _labels(vectors: np.ndarray) -> list[int]:
    """Group unit vectors, most asked first: linkage on a core, the rest joined to its groups.

    Up to CORE vectors this is average linkage itself. Beyond, linkage's cost (the square of
    the count, in time and memory) would make a report take minutes, so the first CORE are
    clustered, every other vector joins the group whose average distance to it is within
    GROUP_DISTANCE (1 - its dot product with the group's mean vector: exactly the distance
    average linkage merges by), and the next CORE of those left are clustered in turn.
    """
    unit = np.asarray(vectors, dtype=np.float32)
    labels = np.full(len(unit), -1, dtype=np.int64)
    sums = np.zeros((0, unit.shape[1]), dtype=np.float32)
    sizes = np.zeros(0, dtype=np.int64)
    left = np.arange(len(unit))
    while len(left):
        core, rest = left[:CORE], left[CORE:]
        found = _linkage_labels(unit[core]) + len(sizes)
        labels[core] = found
        count = int(found.max()) + 1
        sums = np.vstack([sums, np.zeros((count - len(sizes), unit.shape[1]), np.float32)])
        np.add.at(sums, found, unit[core])
        sizes = np.bincount(labels[labels >= 0], minlength=count)
        if not len(rest):
            break
        means = sums / sizes[:, None]
        joined = []
        for start in range(0, len(rest), CORE):
            block = rest[start : start + CORE]
            similarities = unit[block] @ means.T
            best = similarities.argmax(axis=1)
            close = 1.0 - similarities[np.arange(len(block)), best] <= GROUP_DISTANCE
            labels[block[close]] = best[close]
            joined.append(block[close])
        for block in joined:
            np.add.at(sums, labels[block], unit[block])
        sizes = np.bincount(labels[labels >= 0], minlength=count)
        left = rest[labels[rest] < 0]
    return [int(label) for label in labels]


def gap_report(
    gaps: Sequence[Gap],
    encoder: Encoder,
    titles: Mapping[str, str],
    *,
    days: int | None = None,
) -> GapReport:
    """Group gaps by meaning; each group gets its count, examples and the nearest document."""
    by_key: dict[str, list[Gap]] = {}
    for gap in gaps:
        by_key.setdefault(_key(gap.question), []).append(gap)
    # The most asked, then the most recent, are grouped first when there are too many.
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), -by_key[k][-1].at.timestamp()))
    grouped = keys[:MAX_GROUPED]
    labels: dict[str, int] = {}
    if grouped:
        vectors = _embedded(encoder, [_wording(by_key[k]) for k in grouped])
        labels = dict(zip(grouped, _labels(vectors), strict=True))
    members: dict[int, list[str]] = {}
    for key in grouped:
        members.setdefault(labels[key], []).append(key)
    ranked = sorted(
        members.values(),
        key=lambda ks: (
            -sum(len(by_key[k]) for k in ks),
            -max(by_key[k][-1].at for k in ks).timestamp(),
        ),
    )
    groups = []
    number_of: dict[str, int] = {}
    for number, group_keys in enumerate(ranked, start=1):
        entries = [gap for k in group_keys for gap in by_key[k]]
        documents = Counter(g.document for g in entries if g.document is not None)
        document = documents.most_common(1)[0][0] if documents else None
        groups.append(
            GapGroup(
                number=number,
                count=len(entries),
                # group_keys keep the most asked first: the examples are the usual wordings.
                examples=tuple(_wording(by_key[k]) for k in group_keys[:EXAMPLES]),
                document=document,
                title=titles.get(document) if document else None,
            )
        )
        number_of.update(dict.fromkeys(group_keys, number))
    listed = tuple((gap, number_of.get(_key(gap.question))) for gap in gaps)
    return GapReport(days, tuple(groups), listed)


def report_for(log: GapLog, engine: Engine, *, days: int | None = None) -> GapReport:
    """Report a server's gaps of the last `days` days (all that are kept: None)."""
    from index.gaps.log import utc_now

    gaps = log.entries(since=None if days is None else utc_now() - timedelta(days=days))
    titles = {source.document: source.title for source in engine.sources()}
    return gap_report(gaps, engine.encoder, titles, days=days)
