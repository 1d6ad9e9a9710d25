"""Look up and draw who spoke with whom, in the engine's threads (drawing takes CPU)."""

from __future__ import annotations

from index import Engine, Picture, Relations, draw


def draw_relations(relations: Relations) -> Picture:
    """Draw a relations result's graph (run in the engine's threads: it takes CPU)."""
    return draw(relations.graph)


def relations_map(
    engine: Engine, person: str | None, document: str | None
) -> tuple[Relations, Picture | None]:
    """Look the links up and draw them, in one call off the event loop."""
    relations = engine.relations(person=person, document=document)
    return relations, draw_relations(relations) if relations.answered else None


def warm_up() -> None:
    """Import matplotlib and networkx, which take a second or two the first time."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import networkx  # noqa: F401
