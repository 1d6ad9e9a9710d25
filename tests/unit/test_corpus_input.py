"""Corpus files an operator gets slightly wrong: invisible characters, aliases, bad sidecars."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from index.corpus.documents import MAX_TITLE_CHARS, load_corpus
from index.corpus.ingest import prepare
from index.corpus.invisible import FORMAT_CHARACTERS
from tests.unit.test_documents import minimal_pdf


def corpus_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return what the corpus reader logged, one string per record."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("index.corpus")]


@pytest.mark.parametrize("invisible", list(FORMAT_CHARACTERS))
def test_format_characters_inside_words_are_removed(tmp_path: Path, invisible: str) -> None:
    (tmp_path / "a.txt").write_text(f"Ben Wal{invisible}lace spoke.\n\nCafe\u0301 next{invisible}.")
    document = load_corpus(tmp_path).documents[0]
    assert document.text == "Ben Wallace spoke.\n\nCafé next."
    assert [document.text[a:b] for a, b in document.paragraphs] == [
        "Ben Wallace spoke.",
        "Café next.",
    ]


def test_a_symlink_to_a_corpus_file_is_read_once_under_the_real_files_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("In the sub-folder.")
    (tmp_path / "good.txt").write_text("A good document.")
    (tmp_path / "zeros.txt").write_bytes(b"\0" * 1000)
    (tmp_path / "alias.txt").symlink_to(tmp_path / "good.txt")
    (tmp_path / "a-zeros.txt").symlink_to(tmp_path / "zeros.txt")
    (tmp_path / "mirror").symlink_to(tmp_path / "sub")  # listed before the folder it names
    (tmp_path / "sub" / "up").symlink_to(tmp_path)
    with caplog.at_level(logging.INFO):
        loaded = load_corpus(tmp_path)
    assert [d.source for d in loaded.documents] == ["good.txt", "sub/x.txt"]
    assert [p.path for p in loaded.problems] == ["sub/up", "zeros.txt"]
    assert "loop" in loaded.problems[0].reason
    assert any("alias.txt" in m and "good.txt" in m for m in corpus_messages(caplog))


BROKEN_SIDECARS = {
    "unparsable": b"{oops",
    "an array": b'["title", "x"]',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "not UTF-8": b'{"title": "\xff"}',
}


@pytest.mark.parametrize("content", BROKEN_SIDECARS.values(), ids=BROKEN_SIDECARS.keys())
def test_a_broken_sidecar_is_ignored_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    (tmp_path / "field-notes.txt").write_text("The notes themselves are fine.")
    (tmp_path / "field-notes.meta.json").write_bytes(content)
    loaded = load_corpus(tmp_path)
    assert loaded.problems == []
    assert [(d.doc_id, d.title) for d in loaded.documents] == [("field-notes", "Field notes")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "field-notes.meta.json" in warnings[0]
    assert "recursion" not in warnings[0] and "decoding" not in warnings[0]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_read(tmp_path: Path, encoding: str) -> None:
    text = "Over the river.\n\nA second paragraph, all in ASCII."
    (tmp_path / "wide.txt").write_bytes(text.encode(encoding))
    loaded = load_corpus(tmp_path)
    assert loaded.problems == [] and loaded.documents[0].text == text


def test_a_source_url_with_credentials_is_refused_saying_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt").write_text("Some text.")
    (tmp_path / "a.meta.json").write_text(json.dumps({"source_url": "http://user:pw@host.org/"}))
    document = load_corpus(tmp_path).documents[0]
    assert document.source_url is None
    [message] = corpus_messages(caplog)
    assert "a.txt" in message and "credentials" in message and "pw" not in message


def test_a_long_title_is_cut_where_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Some text.")
    (tmp_path / "a.meta.json").write_text(json.dumps({"title": "Long " * 20_000}))
    title = load_corpus(tmp_path).documents[0].title
    assert len(title) == MAX_TITLE_CHARS == 200
    assert title.endswith("Long…")
    uploaded = prepare(b"Text long enough to be a document.", title="T" * 1000)
    assert uploaded.title == "T" * 199 + "…"


MENU_PAGE = (
    "<html><head><title>Tea guide</title></head><body>"
    "<nav>menu menu</nav><article><p>Green tea is steeped at eighty degrees.</p>"
    "<p>Black tea needs boiling water.</p></article></body></html>"
)


def test_a_local_html_file_loses_its_menus_and_keeps_exact_paragraphs(tmp_path: Path) -> None:
    (tmp_path / "tea.html").write_text(MENU_PAGE)
    document = load_corpus(tmp_path).documents[0]
    assert document.title == "Tea guide"
    assert [document.text[a:b] for a, b in document.paragraphs] == [
        "Green tea is steeped at eighty degrees.",
        "Black tea needs boiling water.",
    ]
    assert "menu" not in prepare(MENU_PAGE.encode()).payload.decode()


def test_an_html_fragment_still_reads(tmp_path: Path) -> None:
    (tmp_path / "bit.html").write_text("<p>Just a short fragment.</p><p>Two.</p>")
    document = load_corpus(tmp_path).documents[0]
    assert [document.text[a:b] for a, b in document.paragraphs] == [
        "Just a short fragment.",
        "Two.",
    ]


def test_a_guessed_encoding_is_reported_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "latin.txt").write_bytes(
        "Le café de Müller est à côté de la gare.".encode("cp1252")
    )
    with caplog.at_level(logging.INFO):
        load_corpus(tmp_path)
    assert any("latin.txt" in m and "cp1252" in m for m in corpus_messages(caplog))


def test_pdf_reader_warnings_are_reworded_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "junk-first.pdf").write_bytes(b"junk!\n" + minimal_pdf("Still readable text."))
    (tmp_path / "cut.pdf").write_bytes(minimal_pdf("Cut short.").replace(b"%%EOF\n", b""))
    loaded = load_corpus(tmp_path)
    assert [d.source for d in loaded.documents] == ["junk-first.pdf"]
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
    [message] = corpus_messages(caplog)
    assert "junk-first.pdf" in message and "PDF header" in message
    [problem] = loaded.problems
    assert problem.path == "cut.pdf" and "end-of-file marker" in problem.reason
