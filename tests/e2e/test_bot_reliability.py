"""The Discord layer under failure: feedback writes, long lists, no network, logging."""

from __future__ import annotations

import io
import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.exts.ask._feedback import FeedbackLog
from bot.exts.ask._views import AnswerView
from bot.exts.info import sources_embeds
from bot.logs import setup_logging
from bot.runner import DiscordUnreachable, wait_for_discord
from bot.ui import CONTENT_LIMIT
from index import Answer, Engine, EngineSettings, Library, QuestionError, StorageError
from tests.conftest import ROOT
from tests.support.hashing_encoder import HashingEncoder

ANSWER = Answer("Who?", False, [], [], "No.")


class FakeResponse:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, text: str, **_: Any) -> None:
        self.sent.append(text)


def interaction(user_id: int = 7) -> Any:
    return SimpleNamespace(user=SimpleNamespace(id=user_id), guild_id=None, response=FakeResponse())


def voting_library(tmp_path: Path, feedback: Path, **options: Any) -> Library:
    """A library over a one-document corpus whose votes go to `feedback`."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "apples.txt").write_text("Apples\n\nApples grow on trees in orchards.\n")
    settings = EngineSettings(corpus_dir=corpus, index_dir=tmp_path / "index")
    shared = Engine(settings, HashingEncoder())
    return Library(shared, tmp_path / "guilds", feedback_file=feedback, **options)


class FlakyFeedback(FeedbackLog):
    """Fails the first write, like a full disk that was then cleared."""

    def __init__(self, library: Library) -> None:
        super().__init__(library)
        self.failures = 1

    def record(
        self, answer: Answer, *, user_id: int, helpful: bool, guild_id: int | None = None
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        super().record(answer, user_id=user_id, helpful=helpful, guild_id=guild_id)


async def test_a_failed_vote_can_be_retried(tmp_path: Path) -> None:
    feedback = FlakyFeedback(voting_library(tmp_path, tmp_path / "feedback.jsonl"))
    view = AnswerView(ANSWER, feedback)
    first, second, third = interaction(), interaction(), interaction()
    await view._vote(first, helpful=True)
    assert "couldn't save" in first.response.sent[0]
    await view._vote(second, helpful=True)
    assert second.response.sent == ["Thanks for the feedback!"]
    await view._vote(third, helpful=False)
    assert "already rated" in third.response.sent[0]
    assert len((tmp_path / "feedback.jsonl").read_text().splitlines()) == 1


def test_a_vote_that_cannot_be_written_is_a_storage_error(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    library = voting_library(tmp_path, blocked / "feedback.jsonl")
    with pytest.raises(StorageError, match="the vote could not be saved"):
        FeedbackLog(library).record(ANSWER, user_id=1, helpful=True, guild_id=5)


def test_the_feedback_file_is_private_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "votes" / "feedback.jsonl"
    log = FeedbackLog(voting_library(tmp_path, path, feedback_max_bytes=1000))
    assert log.path == str(path)
    for user in range(30):
        log.record(ANSWER, user_id=user, helpful=True, guild_id=user % 2 or None)
    rotated = path.with_name("feedback.jsonl.1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size <= 1000 and rotated.stat().st_size <= 1000
    assert stat.S_IMODE(rotated.stat().st_mode) == 0o600
    lines = path.read_text().splitlines() + rotated.read_text().splitlines()
    assert 0 < len(lines) < 30  # the oldest votes were dropped, the newest kept
    assert '"user": 29' in path.read_text().splitlines()[-1]
    assert not (tmp_path / "guilds").exists()  # a vote is the bot's, not a server folder's


def test_an_existing_feedback_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text("")
    path.chmod(0o644)
    FeedbackLog(voting_library(tmp_path, path)).record(ANSWER, user_id=1, helpful=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_docker_keeps_feedback_off_the_index_volume() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "DISCORD_FEEDBACK_FILE=/data/feedback/feedback.jsonl" in dockerfile
    assert ":/data/feedback" in compose and ":/data/index" in compose


def test_an_unknown_document_error_fits_in_a_discord_message(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number in range(120):
        (corpus / f"quarterly-report-number-{number:03d}.txt").write_text(f"Report {number}.")
    engine = Engine.open(
        EngineSettings(corpus_dir=corpus, index_dir=tmp_path / "index"), encoder=HashingEncoder()
    )
    with pytest.raises(QuestionError) as raised:
        engine.summary(document="annual-report")
    message = str(raised.value)
    assert len(message) < CONTENT_LIMIT
    assert "quarterly-report-number-000" in message and "more; see /sources" in message


def test_a_long_skipped_list_is_capped_with_a_count() -> None:
    skipped = [f"folder/broken-file-{n}.pdf" for n in range(300)]
    footer = sources_embeds([], skipped)[0].footer.text or ""
    assert len(footer) < 2048 and re.search(r"… and \d+ more$", footer)


async def test_no_network_at_start_is_retried_with_back_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(DiscordUnreachable):
        await wait_for_discord("http://127.0.0.1:9/api/v10", first_delay=0.01, attempts=3)
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 2 and "Cannot reach Discord" in retries[0]


async def test_waiting_for_discord_stops_when_the_bot_is_closed() -> None:
    assert not await wait_for_discord("http://127.0.0.1:9/api/v10", stop=lambda: True)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """Give the test the root logger and put its handlers and level back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logging_has_one_handler_and_no_colour_off_a_terminal(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    discord.utils.setup_logging(level=logging.INFO)
    setup_logging(logging.INFO, stream)
    logging.getLogger("bot").info("hello once")
    assert stream.getvalue().count("hello once") == 1 and "\x1b[" not in stream.getvalue()
    assert len(root_logger.handlers) == 1


def test_logging_colours_a_terminal(root_logger: logging.Logger) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    setup_logging(logging.INFO, stream)
    logging.getLogger("bot").warning("coloured")
    assert "\x1b[33mWARNING" in stream.getvalue()
