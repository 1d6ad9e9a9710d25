"""The index survives operator mistakes: missing corpus, failed writes, crashes, two writers."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import faiss
import pytest

import index.storage.local.files as files
import index.storage.local.store as store
from index import ConfigError, Engine, EngineSettings
from index.corpus import checksums
from index.retrieval.encoder import Vectors
from index.storage.local.files import MANIFEST, load_index
from index.storage.local.locking import writer_lock
from index.text.windows import DEFAULT_PARAMS
from tests.conftest import ROOT
from tests.support.hashing_encoder import HashingEncoder
from tests.support.stores import stored_index
from tests.unit.test_store import make_corpus


def settings_for(folder: Path, **changes: object) -> EngineSettings:
    values: dict[str, object] = {
        "corpus_dir": folder / "corpus",
        "index_dir": folder / "index",
        "lock_timeout": 5.0,
    }
    values.update(changes)
    return EngineSettings(**values)  # type: ignore[arg-type]


def open_engine(folder: Path, encoder: HashingEncoder | None = None, **changes: object) -> Engine:
    return Engine.open(settings_for(folder, **changes), encoder=encoder or HashingEncoder())


def stored_size(folder: Path) -> int:
    return load_index(folder / "index", model_id="test-hashing", params=DEFAULT_PARAMS).size


def test_a_missing_corpus_folder_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    open_engine(tmp_path)
    before = stored_size(tmp_path)
    with pytest.raises(ConfigError, match="VERBATIM_CORPUS_DIR") as raised:
        open_engine(tmp_path, corpus_dir=tmp_path / "not-mounted")
    assert "does not exist" in str(raised.value)
    assert stored_size(tmp_path) == before  # the index on disk was not touched


def test_an_empty_corpus_keeps_a_non_empty_index_unless_pruned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = make_corpus(tmp_path)
    first = open_engine(tmp_path)
    for path in corpus.iterdir():
        path.unlink()
    with caplog.at_level(logging.WARNING):
        kept = open_engine(tmp_path)
    assert "index --prune" in caplog.text and kept.last_sync.kept_because
    assert len(kept.sources()) == 3 and kept.searcher.size == first.searcher.size
    assert stored_size(tmp_path) == first.searcher.size
    pruned = Engine.open(settings_for(tmp_path), encoder=HashingEncoder(), prune=True)
    assert pruned.sources() == [] and stored_size(tmp_path) == 0


def test_a_failed_update_logs_and_keeps_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = make_corpus(tmp_path)
    before = open_engine(tmp_path)
    (corpus / "new.txt").write_text("Kiwis are fuzzy brown fruit. They grow on vines.\n")

    def read_only(folder: Path, index: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(store, "save_index", read_only)
    with caplog.at_level(logging.ERROR):
        engine = open_engine(tmp_path)
    assert "Read-only file system" in (engine.last_sync.save_error or "")
    assert "Cannot save the index" in caplog.text
    assert any("Kiwis" in q.text for q in engine.ask("Which fruit is fuzzy and brown?").quotes)
    assert stored_size(tmp_path) == before.searcher.size  # the old index is intact on disk


@pytest.mark.parametrize("where", ["a_file", "proc"])
def test_an_unwritable_index_path_still_answers(tmp_path: Path, where: str) -> None:
    make_corpus(tmp_path)
    if where == "a_file":
        index_dir = tmp_path / "index-file"
        index_dir.write_text("not a folder")
    else:
        index_dir = Path("/proc/verbatim-cannot-write-here")
    engine = open_engine(tmp_path, index_dir=index_dir)
    assert engine.last_sync.save_error
    assert len(engine.sources()) == 3 and engine.searcher.size > 0
    assert engine.ask("Which fruit is yellow?").question == "Which fruit is yellow?"


def test_temporary_files_of_a_crashed_write_are_removed_at_the_next_start(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    # Wait for the background who-spoke-with-whom extraction, which writes its cache folder
    # after the build: on a busy machine the listing below raced it.
    open_engine(tmp_path).graph  # noqa: B018
    folder = tmp_path / "index"
    live = sorted(p.name for p in folder.iterdir())
    orphans = [
        folder / ".vectors.20240101000000-dead.faiss.abc123.tmp",
        folder / "vectors.20240101000000-dead.faiss",
        folder / "documents.20240101000000-dead.json",
    ]
    for orphan in orphans:
        orphan.write_bytes(b"\0" * 1000)
    engine = open_engine(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == live
    assert sorted(engine.last_sync.removed_orphans) == sorted(p.name for p in orphans)
    assert stored_size(tmp_path) == engine.searcher.size


def test_repeated_failed_writes_do_not_fill_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(tmp_path)
    # Wait for the background who-spoke-with-whom extraction: it writes its cache folder
    # after the build, and the listing below must not race it.
    open_engine(tmp_path).graph  # noqa: B018
    folder = tmp_path / "index"
    before = sorted(p.name for p in folder.iterdir())

    def disk_full(index: object, path: str) -> None:
        Path(path).write_bytes(b"half a file")
        raise RuntimeError("Error: fwrite failed: No space left on device")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    for attempt in range(4):  # like a container restarting after each failure
        (corpus / "other.txt").write_text(f"Changed content, attempt {attempt}. More words.\n")
        engine = open_engine(tmp_path)
        assert "No space left" in (engine.last_sync.save_error or "")
        assert sorted(p.name for p in folder.iterdir()) == before


def test_a_deeply_nested_manifest_is_corrupt_and_rebuilt(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    first = open_engine(tmp_path)
    depth = 100_000
    (tmp_path / "index" / MANIFEST).write_text("[" * depth + "]" * depth)
    engine = open_engine(tmp_path)
    assert "unreadable" in (engine.last_sync.rebuilt_because or "")
    assert engine.last_sync.wrote and stored_size(tmp_path) == first.searcher.size


def test_a_damaged_manifest_is_reported_as_damage_not_as_an_interrupted_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_corpus(tmp_path)
    first = open_engine(tmp_path)
    folder = tmp_path / "index"
    generation = sorted(p.name for p in files._generation_files(folder))
    leftover = folder / ".vectors.20240101000000-dead.faiss.abc123.tmp"
    leftover.write_bytes(b"\0" * 100)
    (folder / MANIFEST).write_text("{ not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        engine = open_engine(tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings and "manifest" in warnings[0] and "unreadable" in warnings[0]
    assert not any("interrupted write" in w and "documents." in w for w in warnings)
    assert engine.last_sync.removed_orphans == [leftover.name]  # a real leftover, still tidied
    assert engine.last_sync.wrote and stored_size(tmp_path) == first.searcher.size
    assert not set(generation) & {p.name for p in folder.iterdir()}  # replaced by the rebuild


def test_a_second_writer_waits_with_a_message_then_serves_without_writing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = make_corpus(tmp_path)
    open_engine(tmp_path)
    (corpus / "new.txt").write_text("Kiwis are fuzzy brown fruit.\n")
    with writer_lock(tmp_path / "index", timeout=1), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        engine = open_engine(tmp_path, lock_timeout=0.6)
        waited = time.monotonic() - started
    assert 0.5 <= waited < 5
    assert "Another process is writing the index" in caplog.text
    assert "another process" in (engine.last_sync.save_error or "")
    assert "new" in [s.document for s in engine.sources()]  # current, from memory
    assert not engine.last_sync.wrote


def test_a_writer_continues_once_the_lock_is_released(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_corpus(tmp_path)
    released = threading.Event()

    def hold() -> None:
        with writer_lock(tmp_path / "index", timeout=1):
            time.sleep(0.7)
        released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    with caplog.at_level(logging.WARNING):
        engine = open_engine(tmp_path, lock_timeout=10)
    holder.join()
    assert released.is_set() and engine.last_sync.wrote
    assert "waiting up to 10 s" in caplog.text
    assert stored_size(tmp_path) == engine.searcher.size


def test_a_reader_retries_when_a_writer_switches_generations_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(tmp_path)
    open_engine(tmp_path)
    (corpus / "new.txt").write_text("Kiwis are fuzzy brown fruit.\n")
    newer = open_engine(tmp_path, index_dir=tmp_path / "newer")
    real_sha = checksums.file_sha256
    swapped: list[bool] = []

    def writer_in_between(path: Path) -> str:
        if not swapped:  # another process saves a new generation (and deletes ours) right now
            swapped.append(True)
            files.save_index(tmp_path / "index", stored_index(newer))
        return real_sha(path)

    monkeypatch.setattr(files, "file_sha256", writer_in_between)
    loaded = load_index(tmp_path / "index", model_id="test-hashing", params=DEFAULT_PARAMS)
    assert swapped and loaded.size == newer.searcher.size


WRITER = """
import sys, time
from pathlib import Path
import index.storage.local.files as files
from index import Engine, EngineSettings
from tests.support.hashing_encoder import HashingEncoder
write = files._write_atomically
def slow_write(path, writer):  # widen the window in which two unlocked writers collide
    write(path, writer)
    time.sleep(0.3)
files._write_atomically = slow_write
folder = Path(sys.argv[1])
settings = EngineSettings(corpus_dir=folder / "corpus", index_dir=folder / "index", lock_timeout=120)
engine = Engine.open(settings, encoder=HashingEncoder())
print(getattr(engine.last_sync, "save_error", None) or "ok", engine.searcher.size)
"""


def test_concurrent_writer_processes_leave_one_consistent_index(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path)
    for number in range(40):
        (corpus / f"extra-{number}.txt").write_text(f"Extra document {number}. " * 200)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for (out, err), process in zip(outputs, processes, strict=True):
        assert process.returncode == 0, err
        assert out.startswith("ok"), out + err
        assert "Traceback" not in err
    sizes = {out.split()[1] for out, _ in outputs}
    assert len(sizes) == 1 and stored_size(tmp_path) == int(sizes.pop())
    names = [p.name for p in (tmp_path / "index").iterdir()]
    assert sum(name.startswith("vectors.") for name in names) == 1
    assert not [name for name in names if name.endswith(".tmp")]


class ModelNeeded(HashingEncoder):
    """An encoder whose model is not available: any use of it fails."""

    @property
    def dimension(self) -> int:
        raise AssertionError("the model was loaded")

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Vectors:
        raise AssertionError("the model was loaded")


def test_an_up_to_date_index_opens_without_the_model(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    first = open_engine(tmp_path)
    engine = open_engine(tmp_path, ModelNeeded())
    assert engine.searcher.size == first.searcher.size and not engine.last_sync.wrote


def test_long_phases_log_their_progress(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_corpus(tmp_path)
    with caplog.at_level(logging.INFO):
        Engine.open(settings_for(tmp_path), encoder=HashingEncoder(), show_progress=True)
    assert "Splitting sentences:" in caplog.text and "characters (100%)" in caplog.text
    assert "Embedding:" in caplog.text and "sentence windows (100%)" in caplog.text


def test_relative_paths_resolve_against_the_data_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VERBATIM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VERBATIM_CORPUS_DIR", "docs")
    monkeypatch.delenv("VERBATIM_INDEX_DIR", raising=False)
    settings = EngineSettings()
    assert settings.corpus_dir == tmp_path / "data" / "docs"
    assert settings.index_dir == tmp_path / "data" / ".verbatim-index"
    monkeypatch.delenv("VERBATIM_DATA_DIR")
    monkeypatch.delenv("VERBATIM_CORPUS_DIR")
    default = EngineSettings()
    assert default.corpus_dir == ROOT / "corpus"  # the checkout, wherever the command runs


def test_an_up_to_date_index_is_read_without_waiting_for_a_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_corpus(tmp_path)
    first = open_engine(tmp_path)
    with writer_lock(tmp_path / "index", timeout=1), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        engine = open_engine(tmp_path, lock_timeout=30)
        elapsed = time.monotonic() - started
    assert elapsed < 5 and "waiting" not in caplog.text
    assert engine.searcher.size == first.searcher.size and engine.last_sync.save_error is None
