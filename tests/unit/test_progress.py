"""Progress of long phases: counts, rate and time left, at an interval, in every phase."""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from index import Engine, EngineSettings, ProgressUpdate
from index.corpus.documents import Document, paragraph_spans
from index.retrieval.encoder import embed_in_steps
from index.text import split_worker
from index.text.progress import Progress, Tracker, duration, reporting_to
from index.text.windows import DEFAULT_PARAMS, split_sentences
from tests.support.hashing_encoder import HashingEncoder
from tests.unit.test_store import make_corpus


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_gives_counts_rate_and_time_left_at_the_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, heard = Clock(), list[ProgressUpdate]()
    with caplog.at_level(logging.INFO, logger="index.text.progress"):
        progress = Progress(
            "Embedding", 1000, "sentence windows", clock=clock, listener=heard.append
        )
        clock.now += 2
        progress.advance(100)  # before the interval: no line
        assert caplog.messages == []
        clock.now += 3
        progress.advance(100)
        assert caplog.messages == ["Embedding: 200/1,000 sentence windows (20%), 40/s, 20 s left"]
        for _ in range(50):  # many steps within one interval make no more lines
            progress.advance(1)
        assert len(caplog.messages) == 1
        clock.now += 20
        progress.advance(750)
        progress.finish()
    assert caplog.messages[-1] == "Embedding: 1,000/1,000 sentence windows (100%) in 25 s, 40/s"
    # The listener hears the start at once, each step a second apart, and the end.
    assert heard[0] == ProgressUpdate("Embedding", 0, 1000, "sentence windows", 0.0, 0.0, None)
    assert [u.done for u in heard] == [0, 100, 200, 1000]
    assert heard[-1].finished and heard[-1].left == 0


def test_the_time_left_follows_the_rate_so_far() -> None:
    clock = Clock()
    progress = Progress("Splitting sentences", 30_000_000, "characters", clock=clock)
    clock.now += 60
    progress.advance(1_000_000)
    update = progress.update()
    assert update.rate == pytest.approx(1_000_000 / 60)
    assert update.left == pytest.approx(29 * 60)
    assert update.describe().endswith("(3%), 16,667/s, 29 min left")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(4.25, "4.2 s"), (42, "42 s"), (185, "3 min 5 s"), (1500, "25 min"), (9960, "2 h 46 min")],
)
def test_durations_read_as_people_say_them(seconds: float, said: str) -> None:
    assert duration(seconds) == said


def test_a_tracker_turns_done_and_total_into_one_phase(caplog: pytest.LogCaptureFixture) -> None:
    heard: list[ProgressUpdate] = []
    with reporting_to(heard.append), caplog.at_level(logging.INFO, "index.text.progress"):
        tracker = Tracker("Reading documents", "files")
        for done in range(4):
            tracker(done, 3)
    assert heard[0].done == 0 and heard[-1].finished and heard[-1].done == 3
    assert caplog.messages[-1].startswith("Reading documents: 3/3 files (100%) in ")


def test_every_phase_of_indexing_reports_to_the_listener_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_corpus(tmp_path)
    settings = EngineSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    heard: list[ProgressUpdate] = []
    with reporting_to(heard.append), caplog.at_level(logging.INFO):
        engine = Engine.open(settings, encoder=HashingEncoder(), show_progress=True)
        engine.graph  # noqa: B018  # relations are read in the background
    phases = {u.phase for u in heard}
    assert phases == {"Reading documents", "Splitting sentences", "Embedding", "Weighing keywords"}
    for phase in phases:
        ends = [u for u in heard if u.phase == phase and u.finished]
        assert len(ends) == 1 and ends[0].done == ends[0].total > 0
    for phase in ("Reading documents:", "Splitting sentences:", "Embedding:", "Relations:"):
        assert any(m.startswith(phase) and "(100%) in " in m for m in caplog.messages), phase


def test_a_reindex_reports_to_the_callback_it_is_given(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    settings = EngineSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    engine = Engine.open(settings, encoder=HashingEncoder())
    (tmp_path / "corpus" / "more.txt").write_text("Pears are green. Plums are purple.\n")
    heard: list[ProgressUpdate] = []
    engine.reindex(progress=heard.append)
    embedding = [u for u in heard if u.phase == "Embedding"]
    assert embedding[0].done == 0 and embedding[-1].finished and embedding[-1].total == 2
    heard.clear()
    engine.reindex()  # no callback: nothing is heard by the last one
    assert heard == []


def test_embedding_in_steps_keeps_the_rows_in_order_and_counts_each_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("index.retrieval.encoder.EMBED_STEP", 3)
    texts = [f"text {i} " + "word " * (i % 4) for i in range(10)]
    encoder = HashingEncoder()
    progress = Progress("Embedding", len(texts), "sentence windows")
    vectors = embed_in_steps(encoder, texts, progress)
    assert np.array_equal(vectors, HashingEncoder().encode(texts))
    assert encoder.calls == [3, 3, 3, 1] and progress.done == len(texts)


def test_the_worker_reports_its_progress_within_a_large_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(split_worker, "PROGRESS_SECONDS", 0.0)
    text = "\n\n".join(f"Paragraph {n} says this. And that." for n in range(20))
    document = Document("big", "Big", text, "big.txt", paragraph_spans(text))
    requests, replies = io.BytesIO(), io.BytesIO()
    pickle.dump((DEFAULT_PARAMS, [document]), requests)
    requests.seek(0)
    split_worker.serve(requests, replies)
    replies.seek(0)
    messages = []
    while replies.tell() < len(replies.getvalue()):
        messages.append(pickle.load(replies))
    kinds = [kind for kind, _ in messages]
    assert kinds == ["progress"] * 20 + ["sentences"]
    assert sum(n for kind, n in messages if kind == "progress") == sum(
        end - start for start, end in document.paragraphs
    )
    assert messages[-1][1] == [split_sentences(document, DEFAULT_PARAMS)]


@pytest.mark.parametrize(
    "source", ["a.txt", "Notes/My File.MD", "x/y.z/a.b.html", "deep/er/Report 2024.pdf", "n.htm"]
)
def test_the_scan_names_documents_as_document_id_does(source: str) -> None:
    from index.corpus.documents import _id_of, document_id

    assert _id_of(source) == document_id(Path(source))


def test_vectors_stream_in_row_order_with_texts_made_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from index.retrieval.units import Units
    from index.storage.local import building
    from index.text.windows import unit_texts, window_spans

    monkeypatch.setattr(building, "EMBED_SLICE", 4)
    made: list[int] = []
    real_units = building.VectorSource.units

    def units(self: building.VectorSource, start: int, stop: int) -> Units:
        made.append(len(self.windows[start:stop]))
        return real_units(self, start, stop)

    monkeypatch.setattr(building.VectorSource, "units", units)
    bodies = ["One. Two. Three. Four. Five. Six. Seven.", "Eight. Nine.", "Ten. Eleven. Twelve."]
    sources, expected = [], []
    stored = HashingEncoder().encode(["kept row"])
    for number, body in enumerate(bodies):
        document = Document(f"d{number}", f"D{number}", body, "x", paragraph_spans(body))
        windows = window_spans(split_sentences(document), DEFAULT_PARAMS.window)
        sources.append(
            building.VectorSource(document=document, windows=windows, params=DEFAULT_PARAMS)
        )
        expected.append(HashingEncoder().encode(unit_texts(document, windows, DEFAULT_PARAMS)))
        if number == 0:
            sources.append(building.VectorSource(stored=lambda: stored))
            expected.append(stored)
    streamed = np.vstack(list(building.stream_vectors(sources, HashingEncoder(), logging.DEBUG)))
    assert np.array_equal(streamed, np.vstack(expected))
    assert max(made) <= 4  # never a document's texts all at once
