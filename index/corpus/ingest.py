"""Turn uploaded or fetched bytes into a document file, judging the type from the content."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from pathlib import PurePath

from index.corpus.complaints import held_back, pdf_complaints
from index.corpus.documents import capped_title, normalise_text, paragraph_spans
from index.corpus.webtext import main_text
from index.corpus.wordtext import docx_text, is_docx
from index.errors import IngestError

# Signatures of common binary formats that someone might upload with a .txt name.
BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x7fELF",
    b"MZ",
    b"\x1f\x8b",
    b"BZh",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\xd0\xcf\x11\xe0",
)
HTML_START = re.compile(
    r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
    re.IGNORECASE | re.DOTALL,
)
MIN_TEXT_CHARS = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A document ready to store: its file suffix, bytes, title and what it came from."""

    kind: str
    suffix: str
    payload: bytes
    title: str | None
    sha256: str
    paragraphs: int
    name: str = "document"  # from the file name or URL: names the file, and titles it if need be
    # The sha256 of the extracted text: a page fetched again is re-indexed only if it changed.
    text_sha256: str = ""


def sha256(data: bytes) -> str:
    """Return the hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    return b"\x00" in head or head.startswith(BINARY_MAGIC)


def decode_text(data: bytes) -> str:
    """Decode text in UTF-8, or in the encoding charset-normalizer finds, else refuse it."""
    if _looks_binary(data):
        raise IngestError("it is a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            raise IngestError("it is not readable text (unknown encoding)") from None
        text = str(best)
    controls = sum(1 for c in text[:20000] if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > max(2, len(text[:20000]) // 100):
        raise IngestError("it is a binary file, not text")
    return normalise_text(text)


def sniff(data: bytes, filename: str | None = None) -> str:
    """Return pdf, docx, html, markdown or text from the bytes (the name tells md from txt)."""
    if not data.strip():
        raise IngestError("the file is empty")
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if is_docx(data):
        return "docx"
    text = decode_text(data)
    if HTML_START.match(text[:4096]):
        return "html"
    suffix = PurePath(filename or "").suffix.lower()
    return "markdown" if suffix in (".md", ".markdown") else "text"


def pdf_text(data: bytes, name: str = "a PDF") -> tuple[str, str | None]:
    """Return a PDF's text and title, refusing encrypted, damaged or textless files."""
    from pypdf import PdfReader

    with held_back("pypdf") as messages:
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise IngestError("the PDF is encrypted (password-protected)")
            pages = [page.extract_text() or "" for page in reader.pages]
            title = str(getattr(reader.metadata, "title", None) or "") or None
        except IngestError:
            raise
        except Exception as error:  # pypdf raises many types for damaged files
            raise IngestError(f"the PDF is damaged ({type(error).__name__})") from None
    if messages:
        log.warning("Read %s despite damage: %s", name, "; ".join(pdf_complaints(messages)))
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise IngestError("the PDF has no text (a scanned PDF needs OCR first)")
    return normalise_text(text), title


def word_text(data: bytes) -> tuple[str, str | None]:
    """Return a Word document's text and title, refusing damaged or textless files."""
    try:
        text, title = docx_text(data)
    except ValueError as error:
        raise IngestError(str(error)) from None
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise IngestError("the Word document has no text")
    return normalise_text(text), title or None


def html_text(html: str) -> tuple[str, str | None]:
    """Extract a page's main text, one paragraph per block, and its title."""
    text, title = main_text(html)
    if len(text) < MIN_TEXT_CHARS:
        raise IngestError("the page has no readable text (only scripts or markup)")
    return normalise_text(text), title


def prepare(data: bytes, *, filename: str | None = None, title: str | None = None) -> Prepared:
    """Check and convert content into the bytes of a corpus file, or raise IngestError."""
    kind = sniff(data, filename)
    found_title: str | None = None
    if kind == "pdf":
        text, found_title = pdf_text(data, filename or "an uploaded PDF")
        suffix, payload = ".pdf", data
    elif kind == "docx":
        # Kept as it came, like a PDF: the corpus reads it with the same reader.
        text, found_title = word_text(data)
        suffix, payload = ".docx", data
    elif kind == "html":
        # The main text is stored, not the page: what is quoted is what a reader saw.
        text, found_title = html_text(decode_text(data))
        suffix, payload = ".txt", text.encode("utf-8")
    else:
        text = decode_text(data)
        suffix, payload = (".md" if kind == "markdown" else ".txt"), text.encode("utf-8")
    paragraphs = len(paragraph_spans(text))
    if paragraphs == 0 or len(text.strip()) < MIN_TEXT_CHARS:
        raise IngestError("it has no text to quote")
    chosen = (title or "").strip() or found_title
    chosen = capped_title(chosen) if chosen else None
    name = PurePath(filename or "").stem.strip() or "document"
    text_hash = sha256(text.encode("utf-8"))
    return Prepared(kind, suffix, payload, chosen, sha256(data), paragraphs, name, text_hash)
