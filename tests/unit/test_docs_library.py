"""Per-server corpora without Discord: isolation, the LRU, ingestion checks and failure safety."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from index import Engine, EngineSettings, ProgressUpdate
from index.corpus.ingest import prepare, sniff
from index.errors import IngestError, LibraryError, StorageError
from index.library import Library
from tests.support.hashing_encoder import HashingEncoder

TEA = b"Green tea is steeped at eighty degrees for two minutes.\n\nBlack tea needs boiling water."
COFFEE = b"Espresso is brewed by forcing hot water through finely ground coffee beans."
SHARED = "The lighthouse keeper climbed ninety steps every evening to light the lamp."


def pdf_bytes(text: str | None, *, encrypt: bool = False) -> bytes:
    """A one-page PDF, with a text line when given."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(300, 200)
    if text:
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 10 Tf 10 100 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    if encrypt:
        writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lighthouse.txt").write_text(SHARED)
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "shared-index")
    shared = Engine.open(settings, encoder=HashingEncoder())
    return Library(shared, tmp_path / "data", cache_size=2, max_documents=3)


def titles(engine: Engine) -> set[str]:
    return {source.title for source in engine.sources()}


def test_each_server_sees_its_own_documents_and_the_shared_ones(library: Library) -> None:
    assert library.engine_for(1) is library.shared  # nothing of its own: no index loaded
    added = library.add(1, prepare(TEA, title="Tea guide"), added_by="admin#1")
    library.add(2, prepare(COFFEE, title="Coffee notes"), added_by="admin#2")
    assert added.paragraphs == 2 and added.sentences >= 2
    assert titles(library.engine_for(1)) == {"Tea guide", "Lighthouse"}
    assert titles(library.engine_for(2)) == {"Coffee notes", "Lighthouse"}
    assert titles(library.engine_for(None)) == {"Lighthouse"}
    answer = library.engine_for(2).ask("How long is green tea steeped?")
    assert all(q.title != "Tea guide" for q in answer.quotes + answer.more)
    assert (library.folder(1) / "corpus").is_dir() and (library.folder(1) / "index").is_dir()


def test_shared_corpus_can_be_hidden(library: Library) -> None:
    hidden = Library(library.shared, library.data_dir, shared_visible=False)
    assert titles(hidden.engine_for(5)) == set()
    hidden.add(5, prepare(TEA, title="Tea guide"), added_by="a")
    assert titles(hidden.engine_for(5)) == {"Tea guide"}


def test_the_cache_is_bounded_and_reloads_from_disk(library: Library) -> None:
    for guild in (1, 2, 3):
        library.add(guild, prepare(TEA + str(guild).encode(), title=f"Tea {guild}"), added_by="a")
    assert library.loaded() == [2, 3]  # cache_size=2: the least recently used went
    encoder = library.shared.encoder
    assert isinstance(encoder, HashingEncoder)
    before = encoder.embedded
    assert titles(library.engine_for(1)) == {"Tea 1", "Lighthouse"}
    assert encoder.embedded == before  # loaded from its stored index, nothing re-embedded
    assert library.loaded() == [3, 1]


def test_list_remove_limit_duplicate_and_audit(library: Library) -> None:
    library.add(1, prepare(TEA, title="Tea"), added_by="ann")
    with pytest.raises(LibraryError, match="already here"):
        library.add(1, prepare(TEA, title="Tea again"), added_by="bob")
    library.add(1, prepare(COFFEE, filename="coffee.md"), added_by="bob")
    library.add(1, prepare(b"# Cocoa\n\nCocoa beans are fermented before drying."), added_by="c")
    with pytest.raises(LibraryError, match="limit"):
        library.add(1, prepare(b"Yerba mate is drunk from a gourd."), added_by="d")
    entries = library.entries(1)
    assert [e.added_by for e in entries] == ["ann", "bob", "c"]
    removed = library.remove(1, entries[0].doc_id, removed_by="ann")
    assert removed.title == "Tea" and "Tea" not in titles(library.engine_for(1))
    with pytest.raises(LibraryError, match="no document"):
        library.remove(1, "nope", removed_by="ann")
    audit = [
        json.loads(line) for line in (library.folder(1) / "audit.jsonl").read_text().splitlines()
    ]
    assert [(a["action"], a["user"]) for a in audit] == [
        ("add", "ann"),
        ("add", "bob"),
        ("add", "c"),
        ("remove", "ann"),
    ]
    assert audit[0]["sha256"] == prepare(TEA).sha256 and audit[0]["at"].endswith("Z")


def test_two_admins_adding_the_same_file_at_once_store_it_once(library: Library) -> None:
    outcomes: list[str] = []

    def add(user: str) -> None:
        try:
            library.add(7, prepare(TEA, title="Tea"), added_by=user)
            outcomes.append("added")
        except LibraryError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=add, args=(u,)) for u in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[0] == "added" and "already here" in sorted(outcomes)[1]
    assert len(library.entries(7)) == 1
    assert titles(library.engine_for(7)) == {"Tea", "Lighthouse"}


def test_a_full_disk_leaves_the_old_state_usable(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.add(1, prepare(TEA, title="Tea"), added_by="a")
    before = sorted(p.name for p in (library.folder(1) / "corpus").iterdir())

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.storage.local.store.save_index", full)
    with pytest.raises(StorageError, match="No space left on device"):
        library.add(1, prepare(COFFEE, title="Coffee"), added_by="a")
    assert sorted(p.name for p in (library.folder(1) / "corpus").iterdir()) == before
    assert titles(library.engine_for(1)) == {"Tea", "Lighthouse"}
    monkeypatch.undo()
    fresh = Library(library.shared, library.data_dir)
    assert titles(fresh.engine_for(1)) == {"Tea", "Lighthouse"}  # the stored index is intact


def test_a_crash_while_storing_leaves_the_folder_as_it_was(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.add(1, prepare(TEA, title="Tea"), added_by="a")
    real_replace = __import__("os").replace

    def crash(source: object, target: object) -> None:
        if str(target).endswith(".txt"):
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr("index.storage.local.shelf.os.replace", crash)
    with pytest.raises(StorageError, match="as they were"):
        library.add(1, prepare(COFFEE, title="Coffee"), added_by="a")
    names = sorted(p.name for p in (library.folder(1) / "corpus").iterdir())
    assert len(names) == 2 and not [n for n in names if n.startswith(".")]


def test_progress_is_reported_while_embedding(library: Library) -> None:
    seen: list[ProgressUpdate] = []
    library.add(1, prepare(TEA, title="Tea"), added_by="a", progress=seen.append)
    embedding = [update for update in seen if update.phase == "Embedding"]
    assert embedding[0].done == 0 and embedding[-1].done == embedding[-1].total > 0
    assert embedding[-1].finished
    assert {update.phase for update in seen} >= {"Reading documents", "Splitting sentences"}


GOOD = {
    "text": (b"Plain words about tea and water.", "x.txt", "text"),
    "markdown": (b"# Title\n\nSome words about tea.", "x.md", "markdown"),
    "html by content": (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "x.txt", "html"),
    "latin-1 text": ("Café au lait, crème brûlée et thé.".encode("latin-1"), "x.txt", "text"),
}


@pytest.mark.parametrize(("data", "name", "kind"), GOOD.values(), ids=GOOD.keys())
def test_the_type_comes_from_the_content(data: bytes, name: str, kind: str) -> None:
    assert sniff(data, name) == kind


def test_pdfs_are_read_and_bad_ones_refused() -> None:
    good = prepare(pdf_bytes("Lighthouses guide ships along dangerous coasts at night."))
    assert good.suffix == ".pdf" and good.kind == "pdf"
    assert prepare(pdf_bytes("Named by its content, not its name."), filename="a.txt").kind == "pdf"
    with pytest.raises(IngestError, match="encrypted"):
        prepare(pdf_bytes("Secret words inside a locked file.", encrypt=True))
    with pytest.raises(IngestError, match="no text"):
        prepare(pdf_bytes(None))
    with pytest.raises(IngestError, match="damaged"):
        prepare(b"%PDF-1.7\n" + b"garbage" * 100)


BAD = {
    "png named .txt": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary"),
    "nul bytes": (b"hello\x00world" * 50, "binary"),
    "empty": (b"  \n ", "empty"),
    "script-only html": (
        b"<html><head><script>" + b"alert(1);" * 200 + b"</script></head><body></body></html>",
        "no readable text",
    ),
    "too short": (b"hi", "no text"),
}


@pytest.mark.parametrize(("data", "why"), BAD.values(), ids=BAD.keys())
def test_bad_content_is_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(IngestError, match=why):
        prepare(data, filename="notes.txt")


def test_html_main_text_is_kept_and_the_title_found() -> None:
    page = (
        b"<html><head><title>Tea guide</title><script>var tracking = 1;</script></head><body>"
        b"<nav>Home | About</nav><article><p>Green tea is steeped at eighty degrees.</p>"
        b"<p>Black tea needs boiling water and four minutes.</p></article></body></html>"
    )
    prepared = prepare(page)
    text = prepared.payload.decode()
    assert prepared.title == "Tea guide" and prepared.suffix == ".txt"
    assert "Green tea is steeped at eighty degrees." in text and "tracking" not in text


def test_a_failed_removal_puts_the_document_back(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = library.add(1, prepare(TEA, title="Tea"), added_by="a")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.storage.local.store.save_index", full)
    with pytest.raises(StorageError, match="as they were"):
        library.remove(1, added.entry.doc_id, removed_by="a")
    assert [e.doc_id for e in library.entries(1)] == [added.entry.doc_id]
    assert "Tea" in titles(library.engine_for(1))


def test_leftovers_of_a_crash_are_swept_when_a_server_loads(library: Library) -> None:
    library.add(1, prepare(TEA, title="Tea"), added_by="a")
    corpus = library.folder(1) / "corpus"
    kept = sorted(p.name for p in corpus.iterdir())
    for name in (".coffee-1234abcd.staged.txt", ".notes.meta.json.99.tmp", ".old.txt.removed"):
        (corpus / name).write_text("half-written")
    (corpus / "coffee-1234abcd.meta.json").write_text("{}")  # its document never arrived
    fresh = Library(library.shared, library.data_dir)
    assert titles(fresh.engine_for(1)) == {"Tea", "Lighthouse"}
    assert sorted(p.name for p in corpus.iterdir()) == kept
