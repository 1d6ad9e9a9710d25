"""The Postgres store: pgvector for the dense side, BM25 in SQL, one transaction a document."""
