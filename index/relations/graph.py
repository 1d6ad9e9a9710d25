"""Who spoke with whom: extracted per document at index time, cached, merged into one graph."""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from index.corpus.documents import Document
from index.relations.patterns import SPACY_MODEL, Extraction, RawLink, extract_document
from index.relations.people import PERSON, UNNAMED, Entity, Span, is_title
from index.text.progress import Progress
from index.text.windows import Sentence

EXTRACTOR_VERSION = 1
FOLDER = "relations"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    """The sentence a link rests on: text == document.text[start:end]."""

    document: str
    title: str
    paragraph: int
    start: int
    end: int
    text: str

    def as_json(self) -> dict[str, Any]:
        """Return the JSON shape of --json."""
        return {
            "document": self.document,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }

    def as_quote_json(self) -> dict[str, Any]:
        """Return the sentence in the shape of an answer's quote, the whole sentence highlighted."""
        # A link's sentence is read from the parse, not ranked: it has no score to give.
        return self.as_json() | {
            "title": self.title,
            "score": None,
            "verifier": None,
            "highlight": {"start": self.start, "end": self.end},
        }


@dataclass(frozen=True)
class Node:
    """A person, organisation or unnamed party ("counterparts in France")."""

    id: str
    name: str
    label: str
    description: str | None = None
    titles: tuple[str, ...] = ()

    @property
    def unnamed(self) -> bool:
        return self.label == UNNAMED

    @property
    def surname(self) -> str:
        return self.name.split()[-1] if self.label == PERSON else self.name

    def as_json(self) -> dict[str, Any]:
        """Return the JSON shape of --json."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "kind": self.label.lower(),
        }


@dataclass(frozen=True)
class Link:
    """Two parties who spoke, met or talked, with when and the sentences that say so."""

    source: str
    target: str
    kind: str
    when: str | None
    evidence: tuple[Evidence, ...]

    def as_json(self) -> dict[str, Any]:
        """Return the JSON shape of --json."""
        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "when": self.when,
            "evidence": [e.as_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class RelationGraph:
    """The nodes and links of the whole corpus (or of a part of it)."""

    nodes: tuple[Node, ...] = ()
    links: tuple[Link, ...] = ()
    _by_id: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({node.id: node for node in self.nodes})

    def node(self, node_id: str) -> Node:
        """Return a node by id."""
        return self._by_id[node_id]

    def degree(self) -> dict[str, int]:
        """Count each node's links."""
        counts = dict.fromkeys(self._by_id, 0)
        for link in self.links:
            counts[link.source] += 1
            counts[link.target] += 1
        return counts

    def keep(self, links: list[Link]) -> RelationGraph:
        """Return the graph of some links and the nodes they join, in the original order."""
        used = {n for link in links for n in (link.source, link.target)}
        return RelationGraph(tuple(n for n in self.nodes if n.id in used), tuple(links))

    def around(self, node_id: str) -> RelationGraph:
        """Return one node's links only."""
        return self.keep([k for k in self.links if node_id in (k.source, k.target)])

    def in_document(self, document: str) -> RelationGraph:
        """Return the links that a document states, with only that document's evidence."""
        links = []
        for link in self.links:
            evidence = tuple(e for e in link.evidence if e.document == document)
            if evidence:
                links.append(replace(link, evidence=evidence))
        return self.keep(links)

    def as_node_link(self) -> dict[str, Any]:
        """Return networkx's node-link shape: {"nodes": [...], "links": [...]}."""
        return {
            "directed": False,
            "multigraph": True,
            "graph": {},
            "nodes": [node.as_json() for node in self.nodes],
            "links": [link.as_json() for link in self.links],
        }


class Relations(NamedTuple):
    """The answer to /relations: a graph, or the reason there is none, with suggestions."""

    graph: RelationGraph
    answered: bool
    reason: str = ""
    person: Node | None = None
    suggestions: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Return the JSON shape of --json: node-link data plus the query's outcome."""
        data = self.graph.as_node_link()
        data.update(
            answered=self.answered,
            reason=self.reason,
            person=self.person.id if self.person else None,
            suggestions=list(self.suggestions),
        )
        return data

    def as_answer_json(self, question: str) -> dict[str, Any]:
        """Return the shape of `ask --json` for a question the links answer, graph included."""
        quotes: dict[Evidence, dict[str, Any]] = {}
        for link in self.graph.links:
            for evidence in link.evidence:
                # Links read from one sentence share it: it is quoted once.
                quotes.setdefault(evidence, evidence.as_quote_json())
        return {
            "question": question,
            "answered": self.answered and bool(self.graph.links),
            "quotes": list(quotes.values()),
            "more": [],
            "reason": self.reason,
            "note": "",
            "relations": self.as_json(),
        }


# -- the per-document cache ---------------------------------------------------------------


class ExtractionCache(Protocol):
    """Where each document's extraction is kept as JSON text, by document id and content hash."""

    def read(self, doc_id: str, content_hash: str) -> str | None:
        """Return the cached text, or None; raise OSError when it cannot be read."""
        ...

    def write(self, doc_id: str, content_hash: str, text: str) -> None:
        """Keep a text; raise OSError when it cannot be kept."""
        ...

    def retain(self, wanted: Collection[tuple[str, str]]) -> None:
        """Drop the texts of every (document, hash) not wanted, at best effort."""
        ...


class FolderCache:
    """The cache beside a local index: relations/<content hash>.json, one file a document."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / FOLDER
        with contextlib.suppress(OSError):  # unwritable: extract anyway, cache nothing
            self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, content_hash: str) -> Path:
        return self.folder / f"{content_hash}.json"

    def read(self, doc_id: str, content_hash: str) -> str | None:
        try:
            return self._path(content_hash).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, doc_id: str, content_hash: str, text: str) -> None:
        path = self._path(content_hash)
        # A temporary file renamed into place: a crash never leaves half a cache file behind.
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def retain(self, wanted: Collection[tuple[str, str]]) -> None:
        names = {self._path(content_hash).name for _, content_hash in wanted}
        for stale in self.folder.glob("*.json") if self.folder.is_dir() else []:
            if stale.name not in names:
                with contextlib.suppress(OSError):
                    stale.unlink()


def _read_cached(cache: ExtractionCache, document: Document) -> Extraction | None:
    try:
        cached = cache.read(document.doc_id, document.content_hash)
        if cached is None:
            return None
        data = json.loads(cached)
        if data.get("version") != EXTRACTOR_VERSION or data.get("model") != SPACY_MODEL:
            return None
        text = document.text
        entities = [Entity.from_json(e, text) for e in data["entities"]]
        links = [
            RawLink(
                str(k["a"]),
                str(k["b"]),
                str(k["kind"]),
                Span(k["when"][0], k["when"][1], text[k["when"][0] : k["when"][1]])
                if k["when"]
                else None,
                int(k["paragraph"]),
                int(k["span"][0]),
                int(k["span"][1]),
            )
            for k in data["links"]
        ]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        log.warning(
            "Re-extracting relations: the cache of %s is unreadable (%s)", document.doc_id, error
        )
        return None
    return Extraction(entities, links)


def _write_cached(cache: ExtractionCache, document: Document, extraction: Extraction) -> None:
    data = {
        "version": EXTRACTOR_VERSION,
        "model": SPACY_MODEL,
        "entities": [e.as_json() for e in extraction.entities],
        "links": [k.as_json() for k in extraction.links],
    }
    cache.write(document.doc_id, document.content_hash, json.dumps(data, ensure_ascii=False))


def sync_relations(
    cache: Path | ExtractionCache,
    documents: list[Document],
    sentences: Mapping[str, Sequence[Sentence]] | None = None,
) -> tuple[RelationGraph, float]:
    """Extract the documents not yet cached, drop caches of removed ones, and merge the graph.

    `cache` is a local index's folder, or a store's own cache. `sentences` maps a document id
    to the sentences the index already split it into.
    """
    started = time.perf_counter()
    if isinstance(cache, Path):
        cache = FolderCache(cache)
    extractions = []
    progress: Progress | None = None
    for position, document in enumerate(documents):
        extraction = _read_cached(cache, document)
        if extraction is None and progress is None:
            # Counted from the first document not cached: an unchanged corpus says nothing.
            progress = Progress("Relations", len(documents) - position, "documents")
        if extraction is None:
            try:
                extraction = extract_document(document, (sentences or {}).get(document.doc_id))
            except (ImportError, OSError) as error:  # no spaCy or no model: the rest still works
                log.warning("Cannot extract relations (%s); /relations will be empty", error)
                extraction = Extraction([], [])
            except Exception:  # an odd parse must never stop the index; not cached, so retried
                log.exception("Extracting relations from %s failed", document.doc_id)
                extraction = Extraction([], [])
            else:
                try:
                    _write_cached(cache, document, extraction)
                except OSError as error:  # a full disk loses the cache, never the index
                    log.warning("Cannot cache relations of %s: %s", document.doc_id, error)
        extractions.append((document, extraction))
        if progress is not None:
            progress.advance(1)
    if progress is not None:
        progress.finish()
    cache.retain([(document.doc_id, document.content_hash) for document in documents])
    return merge(extractions), time.perf_counter() - started


# -- merging documents into one graph -----------------------------------------------------


def _global_id(entity: Entity, document: Document) -> str:
    # Across documents only an exact full name (or organisation name) is the same node.
    if entity.single or entity.label == UNNAMED:
        return f"{entity.key}@{document.doc_id}"
    return entity.key


def merge(extractions: list[tuple[Document, Extraction]]) -> RelationGraph:
    """Join the documents' entities and links into one graph, with one link per pair and when."""
    nodes: dict[str, Node] = {}
    links: dict[tuple[str, str, str, str], Link] = {}
    for document, extraction in extractions:
        ids = {e.key: _global_id(e, document) for e in extraction.entities}
        for entity in extraction.entities:
            node_id = ids[entity.key]
            description = entity.description.text if entity.description else None
            known = nodes.get(node_id)
            if known is None:
                nodes[node_id] = Node(
                    node_id, entity.name, entity.label, description, entity.titles
                )
            elif known.description is None and description:
                nodes[node_id] = replace(known, description=description)
        for raw in extraction.links:
            if raw.a not in ids or raw.b not in ids:
                continue
            source, target = ids[raw.a], ids[raw.b]
            when = raw.when.text if raw.when else None
            pair = sorted((source, target))
            key = (pair[0], pair[1], raw.kind, (when or "").casefold())
            evidence = Evidence(
                document.doc_id,
                document.title,
                raw.paragraph,
                raw.start,
                raw.end,
                document.text[raw.start : raw.end],
            )
            known_link = links.get(key)
            if known_link is None:
                links[key] = Link(source, target, raw.kind, when, (evidence,))
            elif evidence not in known_link.evidence:
                links[key] = replace(known_link, evidence=(*known_link.evidence, evidence))
    return RelationGraph(tuple(nodes.values()), tuple(links.values()))


# -- questions about the graph ------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.replace(".", " ").casefold().split())


def find_people(graph: RelationGraph, query: str) -> list[Node]:
    """Return the named nodes a query names: by full name, surname, or title and surname."""
    words = query.split()
    while len(words) > 1 and is_title(words[0]):
        words.pop(0)  # "Mr. Stoltenberg" asks for Stoltenberg, whatever titles the text used
    wanted = {_normal(query), _normal(" ".join(words))}
    found = []
    for node in graph.nodes:
        if node.unnamed:
            continue
        names = {_normal(node.name), _normal(node.surname), _normal(node.id)}
        names |= {_normal(f"{title} {node.surname}") for title in node.titles}
        names |= {_normal(f"{' '.join(node.titles)} {node.name}")}
        if wanted & names:
            found.append(node)
    return found


def close_names(graph: RelationGraph, query: str, limit: int = 5) -> list[str]:
    """Suggest the names closest to a query that matched no one."""
    choices: dict[str, str] = {}
    for node in graph.nodes:
        if not node.unnamed:
            choices[_normal(node.name)] = node.name
            choices.setdefault(_normal(node.surname), node.name)
    close = difflib.get_close_matches(_normal(query), list(choices), n=limit * 2, cutoff=0.6)
    return list(dict.fromkeys(choices[c] for c in close))[:limit]


def query_relations(
    graph: RelationGraph, *, person: str | None = None, document: str | None = None
) -> Relations:
    """Answer a /relations request: all links, one document's, or one person's."""
    if document is not None:
        graph = graph.in_document(document)
    if not graph.links:
        where = f"'{document}'" if document else "the documents"
        return Relations(graph, False, f"No one in {where} is reported speaking with anyone.")
    if not person or not person.strip():
        return Relations(graph, True)
    matches = find_people(graph, person)
    if len(matches) == 1:
        return Relations(graph.around(matches[0].id), True, person=matches[0])
    if matches:
        names = tuple(node.name for node in matches)
        return Relations(
            graph.keep([]), False, f"'{person}' could be: {', '.join(names)}.", None, names
        )
    suggestions = tuple(close_names(graph, person))
    reason = f"No one by that name ('{person}') is reported speaking with anyone."
    if suggestions:
        reason += f" Did you mean: {', '.join(suggestions)}?"
    return Relations(graph.keep([]), False, reason, None, suggestions)
