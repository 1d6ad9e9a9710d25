"""Check what a question about named people needs: those people named, and quoted when asked."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from index.relations.patterns import load_nlp, shared_subjects
from index.relations.people import is_title

# Verbs that report what someone said ("What did X say?" is answered where X is their subject);
# training's rewritten questions use the same list. "speak", "talk" and "meet" are left out on
# purpose: they report that a conversation happened, not what was said in it.
SPEECH_VERBS = frozenset(
    """say tell state claim assert announce declare warn add write post tweet reiterate stress
    insist argue deny reject note explain reply respond report remark comment predict promise
    propose urge accuse admit acknowledge confirm mention reveal repeat emphasise emphasize
    suggest describe call quote testify conclude""".split()
)
# Nouns for someone's words: "Stoltenberg's statement read ...".
SPEECH_NOUNS = frozenset(
    """statement remark remarks comment comments tweet post words message letter speech
    interview testimony""".split()
)
PRONOUNS = frozenset({"he", "she", "they"})
OPENING_QUOTES = "“\"‘'"


class Needs(NamedTuple):
    """What any passage must show to answer a question."""

    names: tuple[str, ...]  # the surnames of the people the question names
    speaker: str | None  # whose words the question asks for ("What did X say?")


NOTHING = Needs((), None)


def fold(text: str) -> str:
    """Casefold and drop accents, so "Beyoncé" matches "Beyonce"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _surname(entity: Any) -> str | None:
    words = [t.text for t in entity if t.is_alpha and t.text[:1].isupper() and not is_title(t.text)]
    return fold(words[-1]) if words and len(words[-1]) > 1 else None


@lru_cache(maxsize=256)
def question_needs(question: str) -> Needs:
    """Return the people a question names and, for "what did X say", whose words it wants."""
    doc = load_nlp()(question)
    people = [e for e in doc.ents if e.label_ == "PERSON"]
    names = tuple(dict.fromkeys(n for n in map(_surname, people) if n))
    speaker = None
    if doc[:1].text.lower() == "what":
        for token in doc:
            if token.pos_ == "VERB" and token.lemma_.lower() in SPEECH_VERBS:
                for subject in (c for c in token.children if c.dep_ == "nsubj"):
                    found = [p for p in people if subject.i in range(p.start, p.end)]
                    if found:
                        speaker = _surname(found[0])
    return Needs(names, speaker)


def _mentions(text: str, name: str) -> bool:
    """Say whether a text holds a (folded) name as a whole word."""
    pattern = rf"\b{re.escape(name)}\b"
    # Folding a long document costs more than a plain search, which usually finds the name.
    return bool(re.search(pattern, text, re.IGNORECASE) or re.search(pattern, fold(text)))


def names_present(needs: Needs, *texts: str) -> bool:
    """Say whether the texts (a document's title and body) name every person the question names."""
    return all(any(_mentions(t, name) for t in texts) for name in needs.names)


def _subject_words(token: Any) -> Iterable[Any]:
    """Yield a subject's words, without possessors or prepositional phrases ("Putin's aide")."""
    skipped = {t.i for c in token.children if c.dep_ in ("poss", "prep") for t in c.subtree}
    return (t for t in token.subtree if t.i not in skipped)


def _says(doc: Any, speaker: str, named: bool) -> bool:
    """Say whether a parsed sentence reports the speaker's words; `named`: a pronoun may be them."""
    for token in doc:
        lemma = token.lemma_.lower()
        if token.pos_ in ("VERB", "AUX") and lemma in SPEECH_VERBS:
            # "X rejected ... and reiterated ...": the second verb shares the first's subject.
            subjects, _ = shared_subjects(token)
            for subject in subjects:
                if subject.lower_ in PRONOUNS and named:
                    return True  # "Vell arrived late. He said ...": the verifier judges the rest
                if any(fold(t.text) == speaker for t in _subject_words(subject)):
                    return True
        if lemma == "accord" and any(fold(t.text) == speaker for t in token.subtree):
            return True  # "according to Vell, ..."
        if lemma in SPEECH_NOUNS and any(
            c.dep_ == "poss" and any(fold(t.text) == speaker for t in c.subtree)
            for c in token.children
        ):
            return True
    return False


def reports_words_of(speaker: str, sentence: str, before: str) -> bool:
    """Say whether a sentence gives the speaker's words, or quotes on after "X said" before it."""
    nlp = load_nlp()
    if _says(nlp(sentence), speaker, _mentions(f"{before} {sentence}", speaker)):
        return True
    # A quotation that carries on from "X said that “...”." in the sentence before.
    return (
        bool(before)
        and sentence.lstrip()[:1] in OPENING_QUOTES
        and _says(nlp(before), speaker, _mentions(before, speaker))
    )
