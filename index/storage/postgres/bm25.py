"""BM25 in SQL over the postings table, weighed exactly as the local store's bm25s files are."""

from __future__ import annotations

from index.storage.bm25 import K1, B

# The Lucene variant that bm25s implements: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), and
# tf / (tf + k1 (1 - b + b len / avg)). N, the total length and each df are the tenant's,
# kept in the same transactions as its rows. A repeated query term counts each time.
# A view over several tenants (a server's own and the shared corpus) is scored as one index of
# both: N, the total length and each df are the sums of the tenants', and each tenant's row ids
# are shifted into the view's.
_WEIGHED = f"""
WITH asked AS (
    SELECT term, count(*)::float8 AS times FROM unnest(%(terms)s::text[]) AS term GROUP BY term
),
frequencies AS (
    SELECT term, sum(df)::float8 AS df FROM window_frequencies
    WHERE tenant = ANY(%(tenants)s) AND term = ANY(%(terms)s) GROUP BY term
),
weighed AS (
    SELECT asked.term,
           asked.times * ln(1 + (%(n)s::float8 - f.df + 0.5) / (f.df + 0.5)) AS weight
    FROM asked JOIN frequencies AS f ON f.term = asked.term
),
shape AS (
    SELECT {K1}::float8 * (1 - {B}::float8) AS fixed,
           {K1}::float8 * {B}::float8 / greatest(%(total)s::float8 / greatest(%(n)s, 1), 1e-9)
               AS per_length
)"""
# In float8 throughout: a numeric literal or ln() would make every posting's arithmetic
# numeric, which took most of a question's time at 200k windows (docs/benchmarks.md).
_SCORE = "sum(w.weight * p.tf / (p.tf + s.fixed + s.per_length * p.length)) AS score"
# The top k of the rows in [start, stop) of each tenant: a view's rows may be cut into ranges
# that are ranked at once and merged (index/storage/postgres/view.py).
KEYWORD_TOP = f"""{_WEIGHED},
parts AS (
    SELECT * FROM unnest(
        %(tenants)s::text[], %(shifts)s::bigint[], %(starts)s::bigint[], %(ends)s::bigint[]
    ) AS part(tenant, shift, start, stop)
)
SELECT p.row_id + part.shift AS row_id, {_SCORE}
FROM weighed AS w
CROSS JOIN shape AS s
CROSS JOIN parts AS part
JOIN postings AS p ON p.tenant = part.tenant AND p.term = w.term
WHERE p.row_id >= part.start AND p.row_id < part.stop
GROUP BY 1 ORDER BY score DESC, 1 LIMIT %(k)s"""
# Each term's postings of the asked rows are read in one scan of the postings' key over the
# array of their own ids. Over several tenants every tenant is searched for every id, and the
# caller keeps the (tenant, id) pairs it asked for. OFFSET 0 keeps the per-term subquery apart:
# flattened into one join with the asked rows, the planner expected few postings and hashed
# every posting of a common term (54-78 ms at 200k windows), or fetched every posting of the
# asked rows from the table; looked up, it is about 5 ms (docs/benchmarks.md).
KEYWORD_AT = f"""{_WEIGHED}
SELECT found.tenant, found.row_id, sum(found.part) AS score
FROM weighed AS w
CROSS JOIN shape AS s
CROSS JOIN LATERAL (
    SELECT p.tenant, p.row_id,
           w.weight * p.tf / (p.tf + s.fixed + s.per_length * p.length) AS part
    FROM postings AS p
    WHERE p.tenant = ANY(%(tenants)s) AND p.term = w.term AND p.row_id = ANY(%(row_ids)s)
    OFFSET 0
) AS found
GROUP BY 1, 2"""
