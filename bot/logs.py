"""One logging set-up for the CLI and the bot: a single handler, colour only on a terminal."""

from __future__ import annotations

import logging
import sys
import time
from typing import Literal, TextIO

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
COLOURS = {
    logging.DEBUG: "\033[2m",
    logging.INFO: "\033[34m",
    logging.WARNING: "\033[33m",
    logging.ERROR: "\033[31m",
    logging.CRITICAL: "\033[41m",
}
RESET = "\033[0m"
# What discord.py logs, with a traceback, before each attempt to reconnect to the gateway.
RECONNECT_ATTEMPT = "Attempting a reconnect in %.2fs"


class LogSettings(BaseSettings):
    """How much is logged (VERBATIM_LOG_LEVEL)."""

    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = Field(
        None, description="DEBUG, INFO, WARNING or ERROR; default INFO for run/index, else WARNING."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        """Read the level in any case; an empty value means the default."""
        if isinstance(value, str):  # "info" works too; empty means the default
            return value.strip().upper() or None
        return value


class _ColourFormatter(logging.Formatter):
    """Colour the level name; used only when the stream is a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """Format the record with its level name in the level's colour."""
        text = super().format(record)
        colour = COLOURS.get(record.levelno)
        return (
            text.replace(record.levelname, f"{colour}{record.levelname}{RESET}", 1)
            if colour
            else text
        )


def setup_logging(level: int | str, stream: TextIO | None = None) -> None:
    """Send every log record once to stderr, replacing any handler set up before."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    colour = hasattr(stream, "isatty") and stream.isatty()
    handler.setFormatter((_ColourFormatter if colour else logging.Formatter)(FORMAT))
    root = logging.getLogger()
    # basicConfig and discord.utils.setup_logging both add a handler: two would print twice.
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class OutageLog(logging.Filter):
    """Turn discord.py's traceback at each reconnect attempt into one warning per outage."""

    def __init__(self) -> None:
        super().__init__()
        self.down_since: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Let the first reconnect attempt of an outage through as a warning; drop the rest."""
        if record.msg != RECONNECT_ATTEMPT:
            return True
        if self.down_since is not None:
            return False  # this outage was already reported
        self.down_since = time.monotonic()
        error = record.exc_info[1] if record.exc_info else None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.msg = "Lost the connection to Discord's gateway (%s); reconnecting until it is back"
        record.args = (describe(error),)
        record.exc_info, record.exc_text = None, None
        return True

    def back(self) -> float | None:
        """End the outage, returning how many seconds it lasted, or None if there was none."""
        if self.down_since is None:
            return None
        lasted, self.down_since = time.monotonic() - self.down_since, None
        return lasted


# One for the process: discord.py logs every client's reconnects to the same logger.
OUTAGES = OutageLog()


def describe(error: BaseException | None) -> str:
    """Say in a few words, on one line, what an exception was."""
    if error is None:
        return "no reason given"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:200]}" if text else type(error).__name__
