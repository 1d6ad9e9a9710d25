"""The errors the engine raises; each message says what went wrong and how to fix it."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


class QuestionError(ValueError):
    """The question cannot be answered as given; the message says what to change."""


class IngestError(ValueError):
    """The content cannot become a document; the message says why, for the person who sent it."""


class LibraryError(IngestError):
    """A change to a server's documents was refused; nothing changed."""


class StorageError(LibraryError):
    """Writing failed (e.g. the disk is full); the previous documents and index still serve."""


class ModelLoadError(Exception):
    """The configured embedding model cannot be loaded."""


class VerifierError(Exception):
    """The verifier's files are missing, corrupt or unreadable; the message says how to fix it."""


class IndexProblem(Exception):
    """Base for problems with the stored index."""


class CorruptIndex(IndexProblem):
    """The stored index is damaged: unreadable, truncated or not matching its checksums."""


class IndexWriteError(IndexProblem):
    """The index could not be saved (read-only, disk full, locked by another writer)."""


class StaleIndex(IndexProblem):
    """The stored index was built with another model or chunker and cannot be reused."""


class LockError(Exception):
    """The index folder cannot be locked for writing; the message says why."""


class LockTimeout(LockError):
    """Another process held the index folder's lock for longer than we would wait."""


class DatabaseUnavailable(Exception):
    """The database could not be reached, or the connection was lost; trying again may work."""
