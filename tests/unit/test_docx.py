"""Word (.docx) documents: judged by content, read with exact paragraphs, quoted verbatim."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from index import Engine, EngineSettings
from index.corpus.documents import load_corpus
from index.corpus.ingest import prepare, sniff
from index.errors import IngestError
from index.library import Library
from tests.support.hashing_encoder import HashingEncoder

PARAGRAPHS = [
    "Lighthouse keepers trimmed the wick of the lamp every four hours through the night.",
    "The fog signal sounded twice a minute whenever the headland vanished from view.",
]
CELLS = ["Beacon Point", "Lit in 1852 and automated in 1989."]


def word_file(*, title: str = "Keeping the light", paragraphs: list[str] = PARAGRAPHS) -> bytes:
    """A .docx made by python-docx: a heading, paragraphs, blank lines, a line break, a table."""
    document = docx.Document()
    document.core_properties.title = title
    document.add_heading("Keeping the light", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
        document.add_paragraph("")  # an empty Word paragraph is no paragraph of the text
    broken = document.add_paragraph("The log book recorded the weather,")
    broken.add_run().add_break()
    broken.add_run("the ships that passed and the oil that was burnt.")
    table = document.add_table(rows=1, cols=2)
    for cell, text in zip(table.rows[0].cells, CELLS, strict=True):
        cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


EXPECTED = [
    "Keeping the light",
    *PARAGRAPHS,
    "The log book recorded the weather,\nthe ships that passed and the oil that was burnt.",
    *CELLS,
]


def test_a_word_file_is_judged_by_its_content_and_kept_as_it_came() -> None:
    data = word_file()
    assert sniff(data, "notes.txt") == "docx"
    prepared = prepare(data, filename="notes.txt")
    assert prepared.kind == "docx" and prepared.suffix == ".docx" and prepared.payload == data
    assert prepared.title == "Keeping the light" and prepared.paragraphs == len(EXPECTED)
    assert prepare(data, title="Given title").title == "Given title"


def test_each_word_paragraph_is_one_paragraph_at_exact_offsets(tmp_path: Path) -> None:
    (tmp_path / "light.docx").write_bytes(word_file())
    corpus = load_corpus(tmp_path)
    assert not corpus.problems
    [document] = corpus.documents
    assert document.title == "Keeping the light" and document.doc_id == "light"
    assert [document.text[start:end] for start, end in document.paragraphs] == EXPECTED


def test_a_quote_from_a_word_file_is_an_exact_slice_of_it(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "index")
    library = Library(Engine.open(settings, encoder=HashingEncoder()), tmp_path / "data")
    added = library.add(1, prepare(word_file(), filename="light.docx"), added_by="a")
    assert added.entry.filename.endswith(".docx") and added.paragraphs == len(EXPECTED)
    [entry] = library.entries(1)
    assert entry.title == "Keeping the light"
    [document] = load_corpus(library.folder(1) / "corpus").documents
    answer = library.engine_for(1).ask("How often was the fog signal sounded?")
    quotes = answer.quotes or list(answer.closest)
    assert quotes, answer
    for quote in quotes:
        assert quote.document == document.doc_id
        assert quote.text == document.text[quote.start : quote.end]
    assert any("fog signal sounded twice a minute" in q.text for q in quotes)


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_damaged_empty_and_bomb_word_files_are_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(IngestError, match="damaged"):
        prepare(_zip({"word/document.xml": b"<not xml", "[Content_Types].xml": b"<x/>"}))
    empty = docx.Document()
    empty.add_paragraph("Hi")
    out = io.BytesIO()
    empty.save(out)
    with pytest.raises(IngestError, match="no text"):
        prepare(out.getvalue())
    monkeypatch.setattr("index.corpus.wordtext.MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(IngestError, match="unpacks to over"):
        prepare(word_file())
    # A zip that is not a Word document stays a binary file.
    with pytest.raises(IngestError, match="binary"):
        prepare(_zip({"notes.txt": b"plain words in a zip archive"}), filename="notes.txt")
