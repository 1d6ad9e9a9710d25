"""Answering: question checks, candidates, the verifier's judgement, quotes and summaries."""
