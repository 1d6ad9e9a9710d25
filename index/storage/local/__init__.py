"""The local store: FAISS vectors, bm25s postings and a row table under a manifest, one writer."""
