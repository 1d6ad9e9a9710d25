"""Verbatim's retrieval engine: answers questions by quoting documents verbatim. No Discord here."""

import logging

from index.engine import Engine
from index.errors import ConfigError, QuestionError, VerifierError
from index.results import Answer, Highlight, Quote, SourceInfo, Summary
from index.settings import EngineSettings, load_settings

# bm25s and faiss log routine detail at DEBUG/INFO on their own loggers.
logging.getLogger("bm25s").setLevel(logging.WARNING)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)

__all__ = [
    "Answer",
    "ConfigError",
    "Engine",
    "EngineSettings",
    "Highlight",
    "QuestionError",
    "Quote",
    "SourceInfo",
    "Summary",
    "VerifierError",
    "load_settings",
]
