"""Verbatim's Discord layer and command line; the engine lives in `index`."""
