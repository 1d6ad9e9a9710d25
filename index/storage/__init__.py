"""Stores of sentence windows: what the engine needs from one, and the stores that provide it."""
