"""BM25 in SQL over the postings table, weighed exactly as the local store's bm25s files are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from index.storage.bm25 import K1, B, idf

# The Lucene variant that bm25s implements: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), and
# tf / (tf + k1 (1 - b + b len / avg)). N, the total length and each df are the tenant's,
# kept in the same transactions as its rows. A repeated query term counts each time.
# A view over several tenants (a server's own and the shared corpus) is scored as one index of
# both: N, the total length and each df are the sums of the tenants', and each tenant's row ids
# are shifted into the view's.


class Weighed(NamedTuple):
    """A question's terms that occur, each with its BM25 weight, and the length normalisation."""

    terms: list[str]
    weights: list[float]
    fixed: float  # k1 (1 - b)
    per_length: float  # k1 b / average length

    def arguments(self) -> dict[str, object]:
        """Return the SQL parameters both BM25 queries read."""
        return {
            "words": self.terms,
            "weights": self.weights,
            "fixed": self.fixed,
            "per_length": self.per_length,
        }


def weighed(
    query_terms: Sequence[str], frequencies: Mapping[str, int], windows: int, total: int
) -> Weighed:
    """Weigh a question's terms by their window frequencies (terms that occur nowhere drop)."""
    # The weights are computed once here, so the top list and the exact scores by row multiply
    # the same float8 numbers (the fusion uses a top list's scores as exact ones).
    times = Counter(query_terms)
    kept = [term for term in times if frequencies.get(term, 0) > 0]
    weights = [times[term] * idf(frequencies[term], windows) for term in kept]
    average = max(total / max(windows, 1), 1e-9)
    return Weighed(kept, weights, K1 * (1 - B), K1 * B / average)


# In float8 throughout: a numeric literal or ln() would make every posting's arithmetic
# numeric, which took most of a question's time at 200k windows (docs/benchmarks.md). The
# weights come as parameters: read from a join of the frequencies in the same statement, they
# cost a tenth of the top list's time.
_PART = "w.weight * p.tf / (p.tf + %(fixed)s::float8 + %(per_length)s::float8 * p.length)"
_WEIGHTS = "unnest(%(words)s::text[], %(weights)s::float8[]) AS w(term, weight)"
# The top k of the rows in [start, stop) of each tenant: a view's rows may be cut into ranges
# that are ranked at once and merged (index/storage/postgres/view.py).
KEYWORD_TOP = f"""
SELECT p.row_id + part.shift AS row_id, sum({_PART}) AS score
FROM {_WEIGHTS}
CROSS JOIN unnest(
    %(tenants)s::text[], %(shifts)s::bigint[], %(starts)s::bigint[], %(ends)s::bigint[]
) AS part(tenant, shift, start, stop)
JOIN postings AS p ON p.tenant = part.tenant AND p.term = w.term
WHERE p.row_id >= part.start AND p.row_id < part.stop
GROUP BY 1 ORDER BY score DESC, 1 LIMIT %(k)s"""
# Each term's postings of the asked rows are read in one scan of the postings' key over the
# array of their own ids. Over several tenants every tenant is searched for every id, and the
# caller keeps the (tenant, id) pairs it asked for. OFFSET 0 keeps the per-term subquery apart:
# flattened into one join with the asked rows, the planner expected few postings and hashed
# every posting of a common term (54-78 ms at 200k windows), or fetched every posting of the
# asked rows from the table; looked up, it is about 5 ms (docs/benchmarks.md).
KEYWORD_AT = f"""
SELECT found.tenant, found.row_id, sum(found.part) AS score
FROM {_WEIGHTS}
CROSS JOIN LATERAL (
    SELECT p.tenant, p.row_id, {_PART} AS part
    FROM postings AS p
    WHERE p.tenant = ANY(%(tenants)s) AND p.term = w.term AND p.row_id = ANY(%(row_ids)s)
    OFFSET 0
) AS found
GROUP BY 1, 2"""
