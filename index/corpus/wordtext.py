"""Read a Word (.docx) document's text, one paragraph per Word paragraph or table cell."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

# A .docx is a zip; this many bytes unpacked is far beyond any real document, so more is a bomb.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
DOCUMENT_PART = "word/document.xml"
WORD_NAMESPACE = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def is_docx(data: bytes) -> bool:
    """Tell whether bytes are a zip holding a Word document's main part."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return DOCUMENT_PART in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _blocks(body: Any) -> Iterator[str]:
    """Yield the text of each paragraph and table cell of a body, in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in body.iter_inner_content():
        if isinstance(child, Paragraph):
            yield child.text
        elif isinstance(child, Table):
            seen: set[int] = set()
            for row in child.rows:
                for cell in row.cells:
                    # A merged cell is returned once per grid column it spans.
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    yield from _blocks(cell)


def docx_text(data: bytes) -> tuple[str, str]:
    """Return a .docx's text (paragraphs apart by a blank line) and title, or raise ValueError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"the Word document is damaged ({type(error).__name__})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValueError(
            f"the Word document unpacks to over {MAX_UNPACKED_BYTES // (1024 * 1024)} MiB"
        )
    import docx  # imported lazily: only Word documents need it

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_blocks(document))
        title = document.core_properties.title or ""
    except Exception as error:  # python-docx and lxml raise many types for damaged files
        raise ValueError(f"the Word document is damaged ({type(error).__name__})") from None
    # A line break inside a Word paragraph stays a line break, never a paragraph break.
    paragraphs = [re.sub(r"\s*\n\s*", "\n", block).strip() for block in blocks]
    return "\n\n".join(p for p in paragraphs if p), title.strip()
