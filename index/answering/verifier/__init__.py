"""The answer verifier: a trained MiniLM cross-encoder and its shipped weights."""
