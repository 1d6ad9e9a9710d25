"""Discord settings, read from the environment and `.env` (prefix DISCORD_)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index import EngineSettings

_TOKEN_SHAPE = re.compile(r"^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$")


class DiscordSettings(BaseSettings):
    """How the bot connects and behaves on Discord."""

    model_config = SettingsConfigDict(
        env_prefix="DISCORD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # A secret: no default value worth having, never logged (SecretStr prints as stars).
    token: SecretStr | None = Field(None, description="Bot token from the Developer Portal.")
    dev_guild_id: int | None = Field(
        None, gt=0, description="Sync commands to this server only (instant); else globally."
    )
    cooldown_uses: int = Field(3, ge=1, le=100, description="Questions a user may ask per period.")
    cooldown_seconds: float = Field(10.0, ge=0, le=3600, description="Length of that period.")
    feedback_file: Path = Field(
        Path("feedback.jsonl"),
        description="Where 👍/👎 are recorded; relative paths are in VERBATIM_DATA_DIR.",
    )
    feedback_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=0,
        description="Size at which the feedback file moves to NAME.1 (0: never rotate).",
    )
    engine_threads: int = Field(2, ge=1, le=32, description="Threads that run the engine.")
    api_base: str | None = Field(
        None, pattern=r"^https?://", description="REST base URL, e.g. a rate-limit proxy."
    )
    gateway_url: str | None = Field(
        None, pattern=r"^wss?://", description="Gateway URL, when not Discord's own."
    )
    health_file: Path = Field(
        Path("/tmp/verbatim.health"), description="Touched while connected; read by `health`."
    )
    shard_count: int | None = Field(
        None, ge=1, le=1_000_000, description="Shards of the whole bot, across every process."
    )
    # Comma-separated ("0,1"), not JSON: NoDecode hands the raw text to the validator below.
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        None, description="The shards this process runs (default: all of them)."
    )

    @field_validator(
        "token",
        "dev_guild_id",
        "api_base",
        "gateway_url",
        "shard_count",
        "shard_ids",
        mode="before",
    )
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        """Treat an empty value as not set."""
        # `.env.example` lists every variable, some left empty: empty means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """Read "0, 1" as the shard ids 0 and 1."""
        if not isinstance(value, str) or not value.strip():
            return value  # blank: "not set", as for every other variable
        parts = [part.strip() for part in value.split(",")]
        if not all(re.fullmatch(r"[0-9]{1,7}", part) for part in parts):
            raise ValueError(f"{value.strip()!r} is not a comma-separated list of shard ids (0,1)")
        return tuple(int(part) for part in parts)

    @field_validator("shard_ids")
    @classmethod
    def _shards_of_the_count(
        cls, value: tuple[int, ...] | None, info: ValidationInfo
    ) -> tuple[int, ...] | None:
        """Refuse ids without a count, ids repeated, and ids the count does not have."""
        if value is None or "shard_count" not in info.data:
            return value  # an invalid count is reported on its own
        count = info.data["shard_count"]
        if count is None:
            raise ValueError("needs DISCORD_SHARD_COUNT, the number of shards across all processes")
        if len(set(value)) != len(value):
            raise ValueError(f"lists a shard twice ({_listed(value)})")
        if too_big := [shard for shard in value if shard >= count]:
            raise ValueError(
                f"shard {too_big[0]} does not exist with DISCORD_SHARD_COUNT={count} "
                f"(ids run from 0 to {count - 1})"
            )
        return value

    @property
    def sharded(self) -> bool:
        """Whether this process runs some shards of a sharded bot, not one plain connection."""
        return self.shard_count is not None

    @property
    def holds_shard_zero(self) -> bool:
        """Whether this process gets DMs and syncs the commands: shard 0's, or unsharded."""
        return self.shard_count is None or self.shard_ids is None or 0 in self.shard_ids

    @model_validator(mode="after")
    def _in_the_data_folder(self) -> DiscordSettings:
        # Relative paths mean "in VERBATIM_DATA_DIR", as the engine's do, wherever this runs.
        folder = EngineSettings.data_folder()
        self.feedback_file = folder.resolve(self.feedback_file)
        self.health_file = folder.resolve(self.health_file)
        return self

    @field_validator("token")
    @classmethod
    def _looks_like_a_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a token that is not shaped like a bot token, before connecting with it."""
        if value is not None and not _TOKEN_SHAPE.match(value.get_secret_value().strip()):
            raise ValueError(
                "does not look like a bot token (three dot-separated parts, from the "
                "Developer Portal's Bot page)"
            )
        return value


def _listed(shards: tuple[int, ...]) -> str:
    return ",".join(str(shard) for shard in shards)


class DocsSettings(BaseSettings):
    """Per-server documents managed from Discord, and how questions are answered in threads."""

    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    guilds_dir: Path | None = Field(
        None, description="Holds <guild id>/{corpus,index}; default VERBATIM_DATA_DIR/guilds."
    )

    @field_validator("guilds_dir", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        """Treat an empty folder as the default folder."""
        # `.env.example` leaves it empty, which must mean "the default", not the current folder.
        return None if isinstance(value, str) and not value.strip() else value

    def guilds_root(self, data_dir: Path) -> Path:
        """Return the folder of per-server data, relative paths resolved in the data folder."""
        root = self.guilds_dir or Path("guilds")
        return root if root.is_absolute() else data_dir / root

    shared_corpus_visible: bool = Field(
        True, description="Whether servers (not only DMs) also see the shared corpus."
    )
    guild_cache_size: int = Field(
        8, ge=1, le=10_000, description="Server indexes kept in memory (least recently used go)."
    )
    max_file_mb: float = Field(10.0, gt=0, le=100, description="Largest upload or page, in MB.")
    max_documents: int = Field(200, ge=1, le=100_000, description="Documents per server.")
    fetch_timeout_seconds: float = Field(20.0, gt=0, le=300, description="Time to fetch a URL.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed when fetching.")
    refresh_check_seconds: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="How often the bot looks for added pages due to be fetched again (0: never).",
    )
    reply_in_thread: bool = Field(
        False, description="Open a thread for each question asked by mention in a channel."
    )
    menus_ephemeral: bool = Field(
        True, description="Answer the Ask Verbatim and Find sources menus privately."
    )
    gaps: bool = Field(
        True, description="Keep each server's unanswered questions for /docs gaps (off: never)."
    )
    gaps_days: int = Field(
        90, ge=1, le=3650, description="Days an unanswered question is kept in the gap log."
    )
    message_content: bool = Field(
        False,
        description="Request the Message Content intent even when no channel needs it yet.",
    )

    channel_max_messages: int = Field(
        5000,
        ge=1,
        le=100_000,
        description="Messages a channel document keeps: read back by /docs add, newest kept.",
    )


class AutoAnswerSettings(BaseSettings):
    """Channels where the bot answers unasked: how sure it must be, and how often it may speak."""

    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_AUTOANSWER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # The best point measured by bench.autoanswer_point (docs/benchmarks.md): about 70 % of
    # replies right, one question in six answered; a stricter value answers less, no better shown.
    threshold: float = Field(
        0.90, ge=0.0, le=1.0, description="Verifier probability an unasked reply needs."
    )
    per_minute: int = Field(6, ge=1, le=60, description="Unasked replies a channel per minute.")


class JobsSettings(BaseSettings):
    """Indexing jobs, with a database: which processes run them, and how a claim is kept."""

    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_JOBS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    in_bot: bool = Field(
        True,
        description="Whether the bot's processes also run /docs jobs (off when workers do).",
    )
    lease_seconds: float = Field(
        60.0, ge=1, le=3600, description="A job whose worker stopped is redone after this long."
    )
    poll_seconds: float = Field(1.0, gt=0, le=60, description="How often idle workers look.")
