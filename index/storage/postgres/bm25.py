"""BM25 in SQL over the postings table, weighed exactly as the local store's bm25s files are."""

from __future__ import annotations

from index.storage.bm25 import K1, B

# The Lucene variant that bm25s implements: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), and
# tf / (tf + k1 (1 - b + b len / avg)). N, the total length and each df are the tenant's,
# kept in the same transactions as its rows. A repeated query term counts each time.
_SCORED = f"""
WITH asked AS (
    SELECT term, count(*) AS times FROM unnest(%(terms)s::text[]) AS term GROUP BY term
),
weighed AS (
    SELECT asked.term, asked.times,
           ln(1 + (%(n)s - f.df + 0.5) / (f.df + 0.5)) AS idf
    FROM asked JOIN window_frequencies AS f ON f.tenant = %(t)s AND f.term = asked.term
)
SELECT p.row_id,
       sum(w.times * w.idf * p.tf / (p.tf + {K1} * ((1 - {B}) + {B} * p.length
           / greatest(%(total)s::float8 / greatest(%(n)s, 1), 1e-9)))) AS score
FROM weighed AS w
JOIN postings AS p ON p.tenant = %(t)s AND p.term = w.term
"""
KEYWORD_TOP = (
    _SCORED + "WHERE p.row_id < %(end)s GROUP BY p.row_id ORDER BY score DESC, p.row_id LIMIT %(k)s"
)
KEYWORD_AT = _SCORED + "WHERE p.row_id = ANY(%(rows)s) GROUP BY p.row_id"
