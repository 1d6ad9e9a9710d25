"""Retrieval: the encoder, rows and scores, and the hybrid fusion of dense and BM25 top-k lists."""
