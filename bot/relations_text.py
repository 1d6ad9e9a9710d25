"""Plain-text rendering of who spoke with whom, for the command line and the console."""

from __future__ import annotations

import json
import textwrap

from index import Link, RelationGraph, Relations


def link_line(graph: RelationGraph, link: Link) -> str:
    """Return "A — B (Monday) ¶13": both parties, when, and the first evidence's paragraph."""
    when = f" ({link.when})" if link.when else ""
    where = ", ".join(dict.fromkeys(f"¶{e.paragraph}" for e in link.evidence))
    source, target = graph.node(link.source).name, graph.node(link.target).name
    return f"{source} — {target}{when} {where}"


def format_relations(relations: Relations, *, quotes: bool = True) -> str:
    """Render each link with the sentence it rests on, or the reason there are none."""
    if not relations.answered:
        return relations.reason
    graph = relations.graph
    who = f" with {relations.person.name}" if relations.person else ""
    head = f"Who spoke{who}: {len(graph.links)} link{'s' if len(graph.links) != 1 else ''}"
    blocks = [head + " (draw them: python -m bot relations --png FILE)"]
    for i, link in enumerate(graph.links):
        lines = [f"- {link_line(graph, link)} [{link.kind}]"]
        following = graph.links[i + 1] if i + 1 < len(graph.links) else None
        # Links read from one sentence share their quote, printed once after the last of them.
        if quotes and (following is None or following.evidence != link.evidence):
            for evidence in link.evidence:
                lines.append(
                    textwrap.fill(
                        f"“{evidence.text}” ({evidence.title}, paragraph {evidence.paragraph})",
                        width=100,
                        initial_indent="    ",
                        subsequent_indent="    ",
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def relations_json(relations: Relations, question: str | None = None) -> str:
    """Serialise relations in networkx's node-link shape; a routed question as `ask` answers."""
    data = relations.as_json() if question is None else relations.as_answer_json(question)
    return json.dumps(data, ensure_ascii=False, indent=2)
