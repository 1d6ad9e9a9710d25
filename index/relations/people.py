"""Find the people and organisations a document names, and merge their mentions into one each."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PERSON = "PERSON"
ORG = "ORG"
UNNAMED = "UNNAMED"

# Capitalised words that precede a name without being part of it ("Admiral Sir Tony Radakin").
TITLES = frozenset(
    """mr mrs ms miss dr prof sir dame lord lady general gen admiral adm colonel col major maj
    captain capt lieutenant lt sergeant sgt marshal commander president vice prime minister
    secretary chancellor senator sen representative rep governor gov ambassador envoy judge
    justice king queen prince princess pope chairman chairwoman chair chief deputy foreign
    defense defence interior finance state acting premier mayor director spokesman
    spokeswoman""".split()
)
# Words that make a capitalised phrase an organisation rather than a person's name.
ORG_WORDS = frozenset(
    """ministry council department agency office committee union organisation organization
    party bank group company corporation association institute university government army navy
    force forces command commission alliance nato un eu news times post inc ltd plc""".split()
)


def _bare(word: str) -> str:
    return word.strip(".").casefold()


def is_title(word: str) -> bool:
    """Say whether a capitalised word is an honorific or a rank rather than a name."""
    return word[:1].isupper() and _bare(word) in TITLES


def slug(text: str) -> str:
    """Return a lower-case, hyphenated id for a name."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "x"


@dataclass(frozen=True)
class Span:
    """A verbatim stretch of a document: text == document.text[start:end]."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Mention:
    """One naming of a person or organisation in a document."""

    start: int
    end: int
    titles: tuple[str, ...]
    names: tuple[str, ...]
    label: str

    @property
    def full(self) -> str:
        return " ".join(self.names)

    @property
    def surname(self) -> str:
        return self.names[-1] if self.names else ""


@dataclass
class Entity:
    """A person, organisation or unnamed party in one document, with all its mentions."""

    key: str
    name: str
    label: str
    titles: tuple[str, ...] = ()
    mentions: list[tuple[int, int]] = field(default_factory=list)
    description: Span | None = None
    # A name of one word is only ever merged within its document, never across documents.
    single: bool = False

    def as_json(self) -> dict[str, Any]:
        """Return the cached JSON form."""
        description = self.description
        return {
            "key": self.key,
            "name": self.name,
            "label": self.label,
            "titles": list(self.titles),
            "mentions": [list(m) for m in self.mentions],
            "description": [description.start, description.end] if description else None,
            "single": self.single,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], text: str) -> Entity:
        """Rebuild an entity from its cached JSON form and the document text."""
        span = data.get("description")
        return cls(
            key=str(data["key"]),
            name=str(data["name"]),
            label=str(data["label"]),
            titles=tuple(data.get("titles") or ()),
            mentions=[(int(a), int(b)) for a, b in data.get("mentions") or []],
            description=Span(int(span[0]), int(span[1]), text[span[0] : span[1]]) if span else None,
            single=bool(data.get("single")),
        )


def looks_like_org(words: Iterable[str]) -> bool:
    """Say whether a capitalised phrase names an institution."""
    return any(_bare(word) in ORG_WORDS for word in words)


class PeopleIndex:
    """Merge the mentions of one document: by full name, then surnames (and titles) onto those."""

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self._by_surname: dict[str, list[str]] = {}

    def add_full(self, mention: Mention) -> str:
        """Register a mention of two or more name words and return its entity key."""
        key = f"{mention.label.lower()}:{slug(mention.full)}"
        entity = self.entities.get(key)
        if entity is None:
            entity = Entity(key, mention.full, mention.label, mention.titles)
            self.entities[key] = entity
            if mention.label == PERSON:
                self._by_surname.setdefault(mention.surname.casefold(), []).append(key)
        elif len(mention.titles) > len(entity.titles):
            entity.titles = mention.titles
        entity.mentions.append((mention.start, mention.end))
        return key

    def resolve(self, mention: Mention) -> str | None:
        """Return the entity a mention belongs to, if its name is known without doubt."""
        if mention.label == ORG or len(mention.names) > 1:
            key = f"{mention.label.lower()}:{slug(mention.full)}"
            return key if key in self.entities else None
        candidates = self._by_surname.get(mention.surname.casefold(), [])
        if len(candidates) > 1 and mention.titles:
            titled = {_bare(t) for t in mention.titles}
            candidates = [
                k for k in candidates if titled & {_bare(t) for t in self.entities[k].titles}
            ]
        return candidates[0] if len(candidates) == 1 else None

    def add(self, mention: Mention) -> str:
        """Attach a mention to its entity, creating a one-word entity when nothing matches."""
        if len(mention.names) > 1 or mention.label == ORG:
            return self.add_full(mention)
        key = self.resolve(mention)
        if key is None:
            key = f"{mention.label.lower()}:{slug(mention.full)}"
            if key not in self.entities:
                self.entities[key] = Entity(
                    key, mention.full, mention.label, mention.titles, single=True
                )
        self.entities[key].mentions.append((mention.start, mention.end))
        return key

    def describe(self, key: str, description: Span) -> None:
        """Keep the first appositive description of an entity."""
        entity = self.entities.get(key)
        if entity is not None and entity.description is None:
            entity.description = description
