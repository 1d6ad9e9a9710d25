"""Hostile or unusual corpus files: symlinks, encodings, binary junk, bad URLs, escape codes."""

from __future__ import annotations

import json
from pathlib import Path

from bot.console import format_answer, format_sources
from bot.exts.ask._embeds import quote_citation
from bot.exts.info import sources_embeds
from index import Engine, EngineSettings
from index.corpus.documents import load_corpus
from index.results import Answer, Highlight, Quote, SourceInfo
from tests.support.hashing_encoder import HashingEncoder

LATIN = "Le café de Müller est à côté de la gare. Señor Peña y su niño comen piñas.\n\n" * 3


def test_symlinks_out_of_the_corpus_and_loops_are_refused_and_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "good.txt").write_text("A good document.")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "outside").symlink_to(tmp_path)
    (corpus / "sub" / "loop").symlink_to(corpus / "sub")
    (corpus / "self.txt").symlink_to(corpus / "self.txt")
    (corpus / "alias.txt").symlink_to(corpus / "good.txt")  # inside the corpus: read once
    loaded = load_corpus(corpus)
    assert [d.doc_id for d in loaded.documents] == ["good"]
    assert all("secret" not in d.text for d in loaded.documents)
    reasons = {p.path: p.reason for p in loaded.problems}
    assert "outside the corpus" in reasons["passwd.txt"]
    assert "outside the corpus" in reasons["outside"]
    assert "loop" in reasons["sub/loop"] and "loop" in reasons["self.txt"]


def test_utf16_with_bom_and_latin1_files_are_indexed_with_exact_offsets(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wide.txt").write_bytes(
        "\ufeffÜber den Fluß.\r\n\r\nZweiter Absatz.".encode("utf-16-le")
    )
    (corpus / "big-endian.txt").write_bytes("\ufeffBig-endian text.".encode("utf-16-be"))
    (corpus / "latin.txt").write_bytes(LATIN.encode("latin-1"))
    loaded = load_corpus(corpus)
    assert loaded.problems == []
    docs = {d.doc_id: d for d in loaded.documents}
    wide = docs["wide"]
    assert [wide.text[a:b] for a, b in wide.paragraphs] == ["Über den Fluß.", "Zweiter Absatz."]
    assert docs["big-endian"].text == "Big-endian text."
    assert docs["latin"].text.startswith("Le café de Müller") and "piñas" in docs["latin"].text
    engine = Engine.open(
        EngineSettings(corpus_dir=corpus, index_dir=tmp_path / "index"), encoder=HashingEncoder()
    )
    for item in engine.searcher.backend.documents:
        for sentence in item.sentences:
            assert item.document.text[sentence.start : sentence.end].strip()
    answer = engine.ask("Where is the café of Müller?")
    for quote in answer.quotes + answer.more:
        assert docs[quote.document].text[quote.start : quote.end] == quote.text


def test_a_file_of_nul_bytes_is_not_a_document(tmp_path: Path) -> None:
    (tmp_path / "zeros.txt").write_bytes(b"\0" * 10_000)
    (tmp_path / "mostly.txt").write_bytes(b"ok " + b"\x01\x02\x03" * 100)
    (tmp_path / "fine.txt").write_text("Normal text with one \x07 bell in it.")
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["fine"]
    assert {p.path for p in loaded.problems} == {"zeros.txt", "mostly.txt"}


def test_only_http_source_urls_are_kept(tmp_path: Path) -> None:
    urls = {
        "web": "https://example.org/a?b=c",
        "script": "javascript:alert(1)",
        "spaced": "https://example.org/a b",
        "userinfo": "https://@everyone@example.org/",
        "nohost": "https:///path",
    }
    for name, url in urls.items():
        (tmp_path / f"{name}.txt").write_text("Some text.")
        (tmp_path / f"{name}.meta.json").write_text(json.dumps({"source_url": url}))
    docs = {d.doc_id: d.source_url for d in load_corpus(tmp_path).documents}
    assert docs == {
        "web": urls["web"],
        "script": None,
        "spaced": None,
        "userinfo": None,
        "nohost": None,
    }


HOSTILE_URL = "https://example.org/x)[@everyone](https://evil.example/"


def test_source_urls_cannot_inject_a_label_in_citations_or_sources() -> None:
    quote = Quote("d", "Title", 1, 0, 5, "Hello", 0.5, Highlight(0, 5), HOSTILE_URL)
    citation = quote_citation(1, quote)
    assert "@everyone" not in citation and citation.count("](") == 1
    assert "%5B%40everyone%5D" in citation
    source = SourceInfo("d", "Title", "d.txt", 1, 1, HOSTILE_URL, None)
    value = sources_embeds([source], [])[0].fields[0].value or ""
    assert "@everyone" not in value and "](" not in value and "<https://example.org/x" in value


def test_terminal_escapes_in_documents_are_not_printed() -> None:
    text = "Before \x1b[2J\x1b]0;pwned\x07cleared \x1b[31mred\x9b1m text."
    quote = Quote("d", "T\x1b[5mitle", 1, 0, len(text), text, 0.9, Highlight(0, len(text)))
    answer = Answer("q", True, [quote], [])
    for bold in (False, True):
        printed = format_answer(answer, bold=bold)
        assert "\x1b[2J" not in printed and "pwned" not in printed and "\x9b" not in printed
        assert "\x1b[31m" not in printed and "\x1b[5m" not in printed
        assert "Before cleared red1m text." in printed.replace("\x1b[1m", "").replace("**", "")
    assert "\x1b[1m" in format_answer(answer, bold=True)  # our own bold still works


def test_sources_listing_strips_control_characters(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Fine text.")
    (corpus / "a.meta.json").write_text(json.dumps({"title": "Evil\x1b[2J title"}))
    engine = Engine.open(
        EngineSettings(corpus_dir=corpus, index_dir=tmp_path / "index"), encoder=HashingEncoder()
    )
    listing = format_sources(engine)
    assert "Evil title" in listing and "\x1b" not in listing
