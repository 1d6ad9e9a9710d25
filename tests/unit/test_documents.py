"""Reading the corpus: formats, metadata, stable ids, exact text and broken files."""

from __future__ import annotations

import json
from pathlib import Path

from index.corpus.documents import load_corpus, paragraph_spans

MINIMAL_PDF_TEXT = "Verbatim reads PDF files. This is the second sentence."


def minimal_pdf(text: str) -> bytes:
    """Build a one-page PDF with a line of Helvetica text (no PDF library needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def test_each_format_is_read_with_its_title_and_exact_paragraphs(tmp_path: Path) -> None:
    (tmp_path / "plain-notes.txt").write_text("First line.\nSecond line.\r\n")
    (tmp_path / "guide.md").write_text(
        "---\ntitle: The Guide\nsource_url: https://example.org/g\n---\n# Heading\n\nPara one.\n\nPara two.\n"
    )
    (tmp_path / "page.html").write_text(
        "<html><head><title>A Page</title><style>p{}</style></head><body>"
        "<p>Hello &amp; welcome.</p><script>alert(1)</script><p>Bye.</p></body></html>"
    )
    (tmp_path / "paper.pdf").write_bytes(minimal_pdf(MINIMAL_PDF_TEXT))
    (tmp_path / "plain-notes.meta.json").write_text(
        json.dumps({"title": "Notes", "date": "2024-01-02"})
    )
    corpus = load_corpus(tmp_path)
    assert corpus.problems == []
    docs = {d.doc_id: d for d in corpus.documents}
    assert set(docs) == {"plain-notes", "guide", "page", "paper"}
    notes = docs["plain-notes"]
    assert (notes.title, notes.date) == ("Notes", "2024-01-02")
    assert [notes.text[a:b] for a, b in notes.paragraphs] == ["First line.", "Second line."]
    guide = docs["guide"]
    assert guide.title == "The Guide" and guide.source_url == "https://example.org/g"
    assert [guide.text[a:b] for a, b in guide.paragraphs] == ["# Heading", "Para one.", "Para two."]
    page = docs["page"]
    assert page.title == "A Page"
    assert [page.text[a:b] for a, b in page.paragraphs] == ["Hello & welcome.", "Bye."]
    assert MINIMAL_PDF_TEXT in docs["paper"].text


def test_ids_are_stable_and_unique(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "Report 2024.txt").write_text("A.")
    (tmp_path / "report-2024.md").write_text("B.")
    (tmp_path / "sub" / "x.txt").write_text("C.")
    ids = [d.doc_id for d in load_corpus(tmp_path).documents]
    assert ids == [d.doc_id for d in load_corpus(tmp_path).documents]
    assert len(set(ids)) == 3 and "sub/x" in ids


def test_broken_files_are_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine text.")
    (tmp_path / "zeros.txt").write_bytes(b"\0" * 4096)
    (tmp_path / "empty.txt").write_text("  \n\n ")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "bad-meta.txt").write_text("Text.")
    (tmp_path / "bad-meta.meta.json").write_text("{oops")
    (tmp_path / "ignored.odt").write_bytes(b"PK\x03\x04")  # not a format Verbatim reads
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04")
    corpus = load_corpus(tmp_path)
    # A broken sidecar loses only the metadata: the document itself is still read.
    assert [d.doc_id for d in corpus.documents] == ["bad-meta", "good"]
    reasons = {p.path: p.reason for p in corpus.problems}
    assert "control characters" in reasons["zeros.txt"]
    assert reasons["empty.txt"] == "no text"
    assert "PDF" in reasons["broken.pdf"]
    assert "Word document is damaged" in reasons["broken.docx"]
    assert "bad-meta.txt" not in reasons and "ignored.odt" not in reasons


def test_missing_corpus_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    corpus = load_corpus(tmp_path / "nope")
    assert corpus.documents == [] and "does not exist" in corpus.problems[0].reason


def test_paragraphs_split_on_blank_lines_when_present() -> None:
    text = "One line\nstill one.\n\n  Two.  \n\n\nThree."
    assert [text[a:b] for a, b in paragraph_spans(text)] == [
        "One line\nstill one.",
        "Two.",
        "Three.",
    ]
    tail = "a\nb\n\n"
    assert [tail[a:b] for a, b in paragraph_spans(tail)] == ["a\nb"]
