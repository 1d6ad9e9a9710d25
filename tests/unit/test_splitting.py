"""Sentence splitting in a worker process: same sentences, model load alongside, safe fallback."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest

from index.corpus.documents import Document, paragraph_spans
from index.text import splitting
from index.text.progress import Progress
from index.text.windows import DEFAULT_PARAMS, split_sentences
from tests.support.timing import WAIT_SECONDS

ARTICLE = Path(__file__).resolve().parents[2] / "corpus" / "dirty-bomb-claims.txt"


def documents() -> list[Document]:
    text = ARTICLE.read_text(encoding="utf-8")
    made = []
    for number in range(40):  # several messages' worth, each a different text
        body = f"Copy {number}. Mr. Vell met Dr. Jones at 5 p.m. on day {number}.\n\n{text}"
        made.append(Document(f"copy-{number}", f"Copy {number}", body, "x", paragraph_spans(body)))
    return made


def test_the_worker_returns_exactly_the_sentences_split_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(splitting, "WORKER_MIN_CHARS", 1)
    corpus = documents()
    calls: list[str] = []
    progress = Progress("Splitting", sum(len(d.text) for d in corpus), "characters")

    split = splitting.split_documents(
        corpus, DEFAULT_PARAMS, meanwhile=lambda: calls.append("loaded"), progress=progress
    )

    assert split == [split_sentences(d, DEFAULT_PARAMS) for d in corpus]
    assert calls == ["loaded"]
    assert progress.done == sum(e - s for d in corpus for s, e in d.paragraphs)
    assert "instead" not in caplog.text  # the worker did the splitting, with no fallback


@pytest.mark.parametrize("executable", ["/nonexistent/python", "/bin/false"])
def test_a_worker_that_cannot_start_or_dies_falls_back_to_splitting_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, executable: str
) -> None:
    monkeypatch.setattr(splitting, "WORKER_MIN_CHARS", 1)
    monkeypatch.setattr(sys, "executable", executable)
    corpus = documents()[:3]
    calls: list[str] = []

    total = sum(map(splitting.characters, corpus))
    progress = Progress("Splitting", total, "characters", level=logging.DEBUG)

    with caplog.at_level(logging.WARNING, logger="index.text.splitting"):
        split = splitting.split_documents(
            corpus, DEFAULT_PARAMS, meanwhile=lambda: calls.append("loaded"), progress=progress
        )

    assert split == [split_sentences(d, DEFAULT_PARAMS) for d in corpus]
    assert calls  # the model still loads; a second call to a load is a no-op
    assert progress.done == total  # the caller's progress counts the splitting done here
    assert "Splitting sentences in this process instead" in caplog.text


def test_a_small_corpus_is_split_here_without_a_worker(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # a worker would fail loudly
    corpus = documents()[:2]
    with caplog.at_level(logging.WARNING, logger="index.text.splitting"):
        split = splitting.split_documents(corpus, DEFAULT_PARAMS)
    assert split == [split_sentences(d, DEFAULT_PARAMS) for d in corpus]
    assert "instead" not in caplog.text


def test_the_worker_is_heard_while_the_model_loads_and_a_failed_load_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(splitting, "WORKER_MIN_CHARS", 1)
    corpus = documents()[:4]
    heard = threading.Event()
    progress = Progress("Splitting", sum(map(splitting.characters, corpus)), "characters")
    real_advance = progress.advance

    def advance(amount: int) -> None:
        real_advance(amount)
        heard.set()

    monkeypatch.setattr(progress, "advance", advance)

    def load() -> None:
        # The load lasts until this thread's progress has counted the worker's replies.
        assert heard.wait(WAIT_SECONDS)
        raise RuntimeError("the model cannot load")

    with pytest.raises(RuntimeError, match="cannot load"):
        splitting.split_documents(corpus, DEFAULT_PARAMS, meanwhile=load, progress=progress)
    assert progress.done == progress.total
