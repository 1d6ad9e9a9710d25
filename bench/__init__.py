"""Benchmarks over the engine's public API."""
