"""Read the corpus folder into documents with exact, stable text and paragraph spans."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path, PurePath, PurePosixPath
from urllib.parse import urlsplit

from index.corpus.complaints import held_back, pdf_complaints
from index.corpus.invisible import remove_format_characters
from index.corpus.webtext import main_text
from index.corpus.wordtext import docx_text

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
METADATA_SUFFIX = ".meta.json"
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_TITLE_CHARS = 200
MAX_METADATA_BYTES = 1024 * 1024
# Above this share of control characters a "text" is binary junk (e.g. a file of NUL bytes).
MAX_CONTROL_SHARE = 0.3
# Longest BOM first: UTF-32-LE's BOM begins with UTF-16-LE's.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
WESTERN = ("cp1252", "latin_1", "iso8859_15")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One source text, stored exactly as it is quoted."""

    doc_id: str
    title: str
    text: str
    source: str
    paragraphs: tuple[tuple[int, int], ...]
    source_url: str | None = None
    date: str | None = None
    content_hash: str = field(default="", compare=False)
    # Size, modification time and inode of the file and its sidecar when it was read: an
    # unchanged signature lets the next start take the document from the index unread.
    signature: str = field(default="", compare=False)

    def paragraph_of(self, offset: int) -> int:
        """Return the 1-based paragraph number holding a character offset."""
        for number, (start, end) in enumerate(self.paragraphs, start=1):
            if start <= offset < end:
                return number
        return len(self.paragraphs)


@dataclass(frozen=True)
class CorpusProblem:
    """A corpus file that could not be read, and why."""

    path: str
    reason: str


@dataclass
class Corpus:
    """The readable documents of a folder plus the files that were skipped."""

    documents: list[Document]
    problems: list[CorpusProblem]


def text_hash(text: str) -> str:
    """Return the sha256 hex digest of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_text(text: str) -> str:
    """Normalise newlines and drop format characters so offsets mean the same everywhere."""
    text = remove_format_characters(text.replace("\r\n", "\n").replace("\r", "\n"))
    # NFC keeps quotes byte-identical whatever editor saved the file.
    return unicodedata.normalize("NFC", text)


def capped_title(title: str) -> str:
    """Cut a title to MAX_TITLE_CHARS characters, ending with "…" where it was cut."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    return title[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def paragraph_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Split on blank lines when the text has any, else on every line; drop empty ones."""
    separator = r"\n[ \t]*\n" if re.search(r"\n[ \t]*\n", text) else r"\n"
    spans = []
    position = 0
    for match in [*re.finditer(separator, text), None]:
        end = match.start() if match else len(text)
        block = text[position:end]
        stripped = block.strip()
        if stripped:
            start = position + block.index(stripped[0])
            spans.append((start, start + len(stripped)))
        if match:
            position = match.end()
    return tuple(spans)


class _HTMLText(HTMLParser):
    """Collect visible text, breaking paragraphs at block elements."""

    BLOCKS = frozenset(
        "p div br li h1 h2 h3 h4 h5 h6 tr blockquote section article header footer pre".split()
    )
    HIDDEN = frozenset({"script", "style", "noscript", "template", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.HIDDEN:
            self._hidden += 1
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [line.strip() for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _utf16_without_bom(raw: bytes) -> str | None:
    """Return utf-16-le or utf-16-be when the bytes look like BOM-less UTF-16 text, else None."""
    # Mostly-ASCII UTF-16 has a NUL in every other byte, which UTF-8 would read as controls.
    sample = raw[:4096]
    if len(sample) < 2 or len(raw) % 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nuls, odd_nuls = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nuls >= 0.7 and even_nuls <= 0.05:
        return "utf-16-le"
    if even_nuls >= 0.7 and odd_nuls <= 0.05:
        return "utf-16-be"
    return None


def _decode(raw: bytes, source: str) -> str:
    """Decode by BOM, then as BOM-less UTF-16 or UTF-8, then by charset-normalizer's best guess."""
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                raise ValueError(f"not valid {encoding} text despite its BOM ({error})") from None
    wide = _utf16_without_bom(raw)
    if wide is not None:
        try:
            text = raw.decode(wide)
        except UnicodeDecodeError:
            pass  # only looked like UTF-16: the guesses below judge it
        else:
            log.info("Read %s as %s (it has no byte-order mark)", source, wide)
            return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        utf8_error = error
    from charset_normalizer import from_bytes  # imported lazily: only non-UTF-8 files need it

    matches = from_bytes(raw)
    best = matches.best()
    if best is not None:
        # Short Western texts score the same in several code pages; Windows-1252 (a superset
        # of Latin-1's letters) is then by far the likeliest.
        best = next(
            (
                m
                for m in matches
                if m.encoding in WESTERN and m.chaos <= best.chaos and m.coherence >= best.coherence
            ),
            best,
        )
    if best is None:
        raise ValueError(
            f"not text in any encoding we recognise (not UTF-8: bad byte at offset "
            f"{utf8_error.start})"
        )
    log.info("Read %s as %s (it is not UTF-8)", source, best.encoding)
    return str(best)


_BEYOND_PRINTABLE_ASCII = re.compile(r"[^\s!-~]")


def control_share(text: str) -> float:
    """Return the share of a text's non-space characters that are control characters."""
    # Only characters outside printable ASCII can be controls; counting just those keeps this
    # in C for ordinary text (a Python step per character dominated opening a large corpus).
    visible = sum(map(len, text.split()))  # str.split() drops exactly what isspace() is
    if not visible:
        return 0.0
    controls = sum(
        n
        for ch, n in Counter(_BEYOND_PRINTABLE_ASCII.findall(text)).items()
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")
    )
    return controls / visible


def url_refusal(value: str) -> str | None:
    """Return why a source URL cannot be shown as a link, or None when it can."""
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL"
    if "@" in parts.netloc:
        # A link shown to everyone must not carry a user name or password.
        return "it has credentials (user@host) in it"
    if not parts.hostname:
        return "it names no host"
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        return "it has spaces or control characters in it"
    return None


def valid_url(value: str | None) -> str | None:
    """Return an http(s) URL with a host and no credentials, spaces or controls, else None."""
    if not value or url_refusal(value) is not None:
        return None
    return value.strip()


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split `---` key: value front matter off a Markdown text."""
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.DOTALL)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, text[match.end() :]


def _read_pdf(path: Path | io.BytesIO, source: str) -> tuple[str, str]:
    """Return a PDF's text and title, saying what pypdf found wrong with it naming the file."""
    from pypdf import PdfReader  # imported lazily: only PDFs need it

    with held_back("pypdf") as messages:
        try:
            reader = PdfReader(path if isinstance(path, io.BytesIO) else str(path))
            pages = [page.extract_text() or "" for page in reader.pages]
            title = str(getattr(reader.metadata, "title", None) or "")
        except Exception as error:  # pypdf raises many types for damaged files
            why = "; ".join([f"{type(error).__name__}: {error}", *pdf_complaints(messages)])
            raise ValueError(f"unreadable PDF ({why})") from None
    if messages:
        log.warning("Read %s despite damage: %s", source, "; ".join(pdf_complaints(messages)))
    return "\n\n".join(page.strip() for page in pages if page.strip()), title


def _read_html(text: str) -> tuple[str, dict[str, str]]:
    """Return a page's main text, found as for fetched pages, or all its text if none is."""
    body, title = main_text(text)
    if not body:
        # trafilatura takes a bare fragment ("<p>Notes</p>") for no page at all.
        parser = _HTMLText()
        parser.feed(text)
        parser.close()
        body, title = parser.text(), title or parser.title.strip()
    return normalise_text(body), {"title": title or ""}


def _extract(path: PurePath, source: str, raw: bytes | None = None) -> tuple[str, dict[str, str]]:
    """Return a file's text and whatever metadata the format itself carries."""
    # `raw`: the file's bytes when they come from elsewhere than `path` (a stored upload).
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, title = _read_pdf(Path(path) if raw is None else io.BytesIO(raw), source)
        return normalise_text(text), {"title": title} if title else {}
    if suffix == ".docx":
        text, title = docx_text(Path(path).read_bytes() if raw is None else raw)
        return normalise_text(text), {"title": title} if title else {}
    text = normalise_text(_decode(Path(path).read_bytes() if raw is None else raw, source))
    if suffix == ".md":
        meta, body = _front_matter(text)
        heading = re.search(r"^#\s+(.+)$", body, flags=re.MULTILINE)
        if heading and "title" not in meta:
            meta["title"] = heading.group(1).strip()
        return body, meta
    if suffix in (".html", ".htm"):
        return _read_html(text)
    return text, {}


def _parse_metadata(sidecar: Path) -> dict[str, str]:
    """Return a metadata file's fields, or raise ValueError saying in plain words what is wrong."""
    try:
        if sidecar.stat().st_size > MAX_METADATA_BYTES:
            raise ValueError(f"it is larger than {MAX_METADATA_BYTES // 1024} KiB")
        content = sidecar.read_bytes().decode("utf-8-sig")
        data = json.loads(content)
    except OSError as error:
        raise ValueError(f"it cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ValueError(f"it is not valid JSON ({error.msg} at {where})") from None
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(
            f'it holds a JSON {type(data).__name__}, not an object like {{"title": …}}'
        )
    return {str(key): str(value) for key, value in data.items() if value is not None}


def _sidecar(path: Path, source: str) -> dict[str, str]:
    """Return a file's metadata from NAME.meta.json; a broken one is ignored with a warning."""
    sidecar = path.with_name(path.stem + METADATA_SUFFIX)
    if not sidecar.exists():
        return {}
    try:
        return _parse_metadata(sidecar)
    except ValueError as error:
        # The document is still worth quoting: only its title, link or date is lost.
        relative = PurePosixPath(source)
        named = str(relative.with_name(relative.stem + METADATA_SUFFIX))
        log.warning(
            "Ignoring the metadata file %s: %s. %s is read without it.", named, error, source
        )
        return {}


def document_id(relative: Path) -> str:
    """Return the stable id of a file from its path below the corpus folder."""
    stem = relative.with_suffix("").as_posix().lower()
    return _NOT_ID.sub("-", stem).strip("-/") or "document"


def _id_of(source: str) -> str:
    """Return document_id of a supported file's path below the corpus, without a Path."""
    folder, _, name = source.rpartition("/")
    stem = f"{folder}/{_split_name(name)[0]}" if folder else _split_name(name)[0]
    return _NOT_ID.sub("-", stem.lower()).strip("-/") or "document"


_NOT_ID = re.compile(r"[^a-z0-9/]+")


def _title_from_filename(path: PurePath) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def read_document(path: Path, doc_id: str, source: str) -> Document:
    """Read one file into a document, or raise ValueError saying why it cannot be used."""
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    text, meta = _extract(path, source)
    return _document(
        text,
        {**{k: v for k, v in meta.items() if v}, **_sidecar(path, source)},
        path,
        doc_id,
        source,
    )


def parse_document(
    data: bytes, name: str, doc_id: str, source: str, metadata: Mapping[str, str | None]
) -> Document:
    """Read a stored file's bytes into a document, as if from `name` beside a sidecar's fields."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    path = PurePosixPath(name)
    text, meta = _extract(path, source, data)
    given = {str(key): str(value) for key, value in metadata.items() if value is not None}
    return _document(text, {**{k: v for k, v in meta.items() if v}, **given}, path, doc_id, source)


def _document(
    text: str, meta: Mapping[str, str], path: PurePath, doc_id: str, source: str
) -> Document:
    """Make the document of a file's text and metadata, or raise ValueError if it is unusable."""
    paragraphs = paragraph_spans(text)
    if not paragraphs:
        raise ValueError("no text")
    if control_share(text) > MAX_CONTROL_SHARE:
        raise ValueError("mostly control characters: a binary file, not text")
    title = capped_title(meta.get("title") or _title_from_filename(path))
    given_url = meta.get("source_url") or meta.get("url")
    refusal = url_refusal(given_url) if given_url else None
    if refusal:
        log.warning("Ignoring the source_url of %s: %s", source, refusal)
    return Document(
        doc_id=doc_id,
        title=title,
        text=text,
        source=source,
        paragraphs=paragraphs,
        source_url=valid_url(given_url),
        date=meta.get("date"),
        # The title is embedded with every chunk, so it is part of what decides re-embedding.
        content_hash=text_hash(f"{title}\n{text}"),
    )


# A corpus file found by the scan: its path, its path below the corpus, and the path of the
# NAME.meta.json beside it if its folder listed one (None: no sidecar, and no stat for it).
# A plain tuple: 41k of them are made at each start.
_Listed = tuple[str, str, str | None]


def _split_name(name: str) -> tuple[str, str]:
    """Return a file name's stem and lower-case suffix, as os.path.splitext would."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem.strip("."):
        return name, ""
    return stem, "." + suffix.lower()


def _corpus_files(root: Path) -> tuple[list[_Listed], list[CorpusProblem]]:
    """List supported files below root once each, refusing symlinks that leave it or loop."""
    # One scandir a folder and no system call per plain file: the entry's type comes with its
    # name, and a plain file below the corpus is where its path says it is.
    real_root = str(root.resolve())
    plain: list[_Listed] = []
    linked: list[tuple[str, _Listed]] = []  # a link's target, and the link
    problems: list[CorpusProblem] = []
    pending: list[tuple[str, str]] = [(str(root), "")]  # a folder, and its path below root + "/"
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
            entries.sort(key=_name)
        except OSError as error:
            where = prefix.rstrip("/") or "."
            problems.append(CorpusProblem(where, f"unreadable folder ({error})"))
            continue
        names = {entry.name for entry in entries}
        for entry in entries:
            name = entry.name
            # endswith first: most names (sidecars, other files) are settled without a split.
            wanted = name.lower().endswith(SUPPORTED_SUFFIXES) and not name.startswith(".")
            if not entry.is_symlink():
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, prefix + name + "/"))
                elif wanted and entry.is_file(follow_symlinks=False):
                    plain.append(_listing(entry.path, prefix + name, folder, names))
                continue
            relative = prefix + name
            try:
                # strict: a loop or a dangling link raises instead of resolving to nowhere
                target = Path(entry.path).resolve(strict=True)
            except (OSError, RuntimeError):
                problems.append(CorpusProblem(relative, "broken symlink or symlink loop; skipped"))
                continue
            if not target.is_relative_to(real_root):
                problems.append(
                    CorpusProblem(relative, "symlink to outside the corpus folder; skipped")
                )
                continue
            if target.is_dir():
                if Path(folder).resolve().is_relative_to(target):
                    problems.append(CorpusProblem(relative, "symlink loop; skipped"))
                else:
                    # Every folder inside the corpus is walked by its own path already.
                    named = _relative(target, Path(real_root))
                    log.info("%s is the same folder as %s, which is read instead", relative, named)
            elif wanted and target.is_file():
                linked.append((str(target), _listing(entry.path, relative, folder, names)))
    return _once_each(plain, linked, real_root), problems


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _listing(path: str, relative: str, folder: str, names: set[str]) -> _Listed:
    """Return a found file, with the path of its sidecar if its folder holds one."""
    sidecar = _split_name(relative.rpartition("/")[2])[0] + METADATA_SUFFIX
    return (path, relative, f"{folder}/{sidecar}" if sidecar in names else None)


def _path_order(found: _Listed) -> str:
    """Sort key of a path below the corpus that orders it part by part, as paths sort."""
    # With "/" as NUL (in no file name), comparing the strings compares the parts in turn.
    return found[1].replace("/", "\0")


def _once_each(
    plain: list[_Listed], linked: list[tuple[str, _Listed]], real_root: str
) -> list[_Listed]:
    """Keep one path per real file: its own, else the first link to it; sorted."""
    if not linked:
        return sorted(plain, key=_path_order)  # no links: each path is a file of its own
    # A plain file below the corpus is its own real path; it comes before any link to it, so
    # that adding a link to a file renames nothing.
    chosen: dict[str, _Listed] = {f"{real_root}/{found[1]}": found for found in plain}
    for real, found in sorted(linked, key=lambda item: _path_order(item[1])):
        first = chosen.setdefault(real, found)
        if first is not found:
            log.info("%s is the same file as %s, which is read instead", found[1], first[1])
    return sorted(chosen.values(), key=_path_order)


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


# Files read between reports to `progress`: a call per file would cost more than the check.
PROGRESS_FILES = 64
# Part of every signature: a release that reads files differently re-reads them all once.
READER_VERSION = "r2"


def file_signature(path: str | Path) -> str:
    """Return what changes whenever a file or its sidecar does: size, mtime and inode."""
    folder, name = os.path.split(path)
    return _signature(os.fspath(path), os.path.join(folder, _split_name(name)[0] + METADATA_SUFFIX))


def _signature(path: str, sidecar: str | None) -> str:
    """Return file_signature of a file whose sidecar is `sidecar` (None: there is none)."""
    parts = [READER_VERSION]
    for candidate in (path, sidecar):
        try:
            if candidate is None:
                raise FileNotFoundError
            stat = os.stat(candidate)
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}")
    return "|".join(parts)


def load_corpus(
    folder: Path,
    known: Mapping[str, Document] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Corpus:
    """Read every supported file below a folder, sorted, skipping (and reporting) broken ones.

    `known` maps a file's path below the folder to the document read from it before; a file
    whose signature is unchanged is taken from there instead of being read again.
    `progress` is told (files done, files in all) before each file and at the end.
    """
    if not folder.is_dir():
        return Corpus([], [CorpusProblem(str(folder), "corpus folder does not exist")])
    documents: list[Document] = []
    used: set[str] = set()
    files, problems = _corpus_files(folder)
    for done, (path, source, sidecar) in enumerate(files):
        if progress is not None and not done % PROGRESS_FILES:
            progress(done, len(files))
        doc_id = _id_of(source)
        if doc_id in used:  # a.txt beside a.md: keep ids unique and stable
            doc_id = f"{doc_id}-{_split_name(source)[1].lstrip('.')}"
        try:
            signature = _signature(path, sidecar)
            before = known.get(source) if known else None
            if before is not None and before.signature == signature and before.doc_id == doc_id:
                documents.append(before)
            else:
                read = read_document(Path(path), doc_id, source)
                documents.append(replace(read, signature=signature))
            used.add(doc_id)
        except (OSError, ValueError) as error:
            problems.append(CorpusProblem(source, str(error)))
    if progress is not None:
        progress(len(files), len(files))
    return Corpus(documents, problems)
