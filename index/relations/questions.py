"""Recognise "who spoke with whom" questions, which the relations graph answers best."""

from __future__ import annotations

import re

from index.relations.graph import RelationGraph, Relations, close_names, find_people

_ASKS = re.compile(
    r"\b(?:who|whom|which\s+(?:people|persons|officials|leaders))\b.*?\b(?:spoke|speak|speaks"
    r"|spoken|speaking|talk|talks|talked|talking|met|meet|meets|meeting|discuss(?:ed|es)?"
    r"|conversations?|calls?|phoned|confer(?:red)?)\b",
    re.IGNORECASE | re.DOTALL,
)
_STOP = frozenset({"who", "whom", "which", "did", "has", "have", "what", "when", "i"})


def _named(graph: RelationGraph, question: str) -> tuple[list[str], list[str]]:
    """Return the node ids a question names, and capitalised words that name no one."""
    ids: list[str] = []
    words = re.findall(r"[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*", question)
    unknown = []
    for phrase in words:
        parts = [w for w in phrase.split() if w.casefold().strip(".") not in _STOP]
        if not parts:
            continue
        found = find_people(graph, " ".join(parts)) or find_people(graph, parts[-1])
        if found:
            ids.extend(node.id for node in found if node.id not in ids)
        else:
            unknown.append(" ".join(parts))
    return ids, unknown


def asks_who_spoke(question: str) -> bool:
    """Return whether a question asks who spoke, met or talked with whom."""
    return _ASKS.search(question) is not None


def relations_for_question(graph: RelationGraph, question: str) -> Relations | None:
    """Answer a who-spoke-with-whom question from the links, or return None for other ones."""
    if not asks_who_spoke(question):
        return None
    ids, unknown = _named(graph, question)
    if unknown and not ids:
        # The parser misses names, so "no one by that name" would be a confident false
        # negative: the passages answer instead, with no_link_note saying no link was found.
        return None
    if not graph.links:
        return Relations(graph, False, "No one in the documents is reported speaking with anyone.")
    if ids:
        links = [k for k in graph.links if k.source in ids or k.target in ids]
        person = graph.node(ids[0]) if len(ids) == 1 else None
        return Relations(graph.keep(links), True, person=person)
    return Relations(graph, True)


def no_link_note(graph: RelationGraph, question: str) -> str:
    """Say that no link names the person a who-spoke question asks about; '' otherwise."""
    if not asks_who_spoke(question):
        return ""
    ids, unknown = _named(graph, question)
    if ids or not unknown:
        return ""
    note = f"No link was found between '{unknown[0]}' and anyone; answering from the passages."
    suggestions = close_names(graph, unknown[0])
    if suggestions:
        note += f" Did you mean: {', '.join(suggestions)}?"
    return note
