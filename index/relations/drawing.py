"""Draw the relations graph as a PNG: names in boxes, links labelled with their day."""

from __future__ import annotations

import io
import math
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from index.relations.graph import RelationGraph

MAX_NODES = 24
LABEL_WIDTH = 18
ATTEMPTS = 12
_LEADING_PREPOSITION = re.compile(r"^(?:on|in|during|over|at)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Picture:
    """A drawn graph and how much of it was left out to stay readable."""

    png: bytes
    shown: int
    left_out: int
    overlaps: int


def day_label(when: str | None) -> str:
    """Return a link's label: its time phrase without the leading preposition ("Monday")."""
    return _LEADING_PREPOSITION.sub("", when or "").strip()


def capped(graph: RelationGraph, limit: int = MAX_NODES) -> tuple[RelationGraph, int]:
    """Keep the most connected nodes (named ones first on ties) and their links among them."""
    degree = graph.degree()
    order = sorted(graph.nodes, key=lambda n: (-degree[n.id], n.unnamed, n.name))
    kept = {n.id for n in order[:limit]}
    links = [k for k in graph.links if k.source in kept and k.target in kept]
    smaller = graph.keep(links)
    return smaller, len(graph.nodes) - len(smaller.nodes)


DPI = 100
NODE_FONT = 10.0
UNNAMED_FONT = 8.5
EDGE_FONT = 9.0
MARGIN = 24.0
ROW_WIDTH = 1400.0


@dataclass(frozen=True)
class _Box:
    """A label's centre and half sizes, in pixels."""

    x: float
    y: float
    half_w: float
    half_h: float

    def overlaps(self, other: _Box) -> bool:
        return (
            abs(self.x - other.x) < self.half_w + other.half_w
            and abs(self.y - other.y) < self.half_h + other.half_h
        )


def _size(text: str, points: float) -> tuple[float, float]:
    """Estimate a boxed label's half width and half height in pixels (generously)."""
    pixels = points * DPI / 72
    lines = text.split("\n")
    width = max(len(line) for line in lines) * pixels * 0.62 + pixels * 1.2
    height = len(lines) * pixels * 1.25 + pixels * 1.0
    return width / 2, height / 2


def _count_overlaps(boxes: list[_Box]) -> int:
    return sum(1 for i, box in enumerate(boxes) for other in boxes[i + 1 :] if box.overlaps(other))


@dataclass(frozen=True)
class _Layout:
    positions: dict[str, tuple[float, float]]
    width: float
    height: float


def _node_text(name: str) -> str:
    return textwrap.fill(name, LABEL_WIDTH)


def _labels_at(
    unit: dict[str, tuple[float, float]],
    scale: float,
    sizes: dict[str, tuple[float, float]],
    days: dict[tuple[str, str], list[str]],
) -> list[_Box]:
    boxes = [_Box(x * scale, y * scale, *sizes[n]) for n, (x, y) in unit.items()]
    for (a, b), labels in days.items():
        if labels and a in unit and b in unit:
            x = (unit[a][0] + unit[b][0]) / 2 * scale
            y = (unit[a][1] + unit[b][1]) / 2 * scale
            boxes.append(_Box(x, y, *_size(", ".join(labels), EDGE_FONT)))
    return boxes


def _component_layout(
    component: Any,
    sizes: dict[str, tuple[float, float]],
    days: dict[tuple[str, str], list[str]],
    nx: Any,
) -> tuple[dict[str, tuple[float, float]], float]:
    """Lay out one connected part, scaled just enough that none of its labels overlap."""
    nodes = list(component.nodes)
    if len(nodes) == 1:
        return {nodes[0]: (0.0, 0.0)}, 1.0
    hub = max(nodes, key=component.degree)
    candidates = []
    if component.degree(hub) == len(nodes) - 1 and component.number_of_edges() == len(nodes) - 1:
        # A star reads best as a wheel: the hub in the middle, the others evenly around it.
        leaves = [n for n in nodes if n != hub]
        turn = 2 * math.pi / len(leaves)
        wheel = {hub: (0.0, 0.0)}
        for i, leaf in enumerate(leaves):
            wheel[leaf] = (math.cos(math.pi / 2 + i * turn), math.sin(math.pi / 2 + i * turn))
        candidates.append(wheel)
    for seed in range(ATTEMPTS):
        raw = (
            nx.kamada_kawai_layout(component)
            if seed == 0
            else nx.spring_layout(component, seed=seed, iterations=100)
        )
        candidates.append({n: (float(p[0]), float(p[1])) for n, p in raw.items()})
    best: tuple[float, dict[str, tuple[float, float]]] | None = None
    for unit in candidates:
        scale = 60.0
        while scale < 4000 and _count_overlaps(_labels_at(unit, scale, sizes, days)):
            scale *= 1.12
        if best is None or scale < best[0]:
            best = (scale, unit)
    assert best is not None
    scale, unit = best
    return {n: (x * scale, y * scale) for n, (x, y) in unit.items()}, scale


def _layout(graph: RelationGraph, days: dict[tuple[str, str], list[str]], nx: Any) -> _Layout:
    """Place each connected part on its own, then pack the parts in rows."""
    plain = nx.Graph()
    plain.add_nodes_from(n.id for n in graph.nodes)
    plain.add_edges_from(days)
    sizes = {
        n.id: _size(_node_text(n.name), UNNAMED_FONT if n.unnamed else NODE_FONT)
        for n in graph.nodes
    }
    parts = sorted(nx.connected_components(plain), key=lambda c: (-len(c), sorted(c)))
    positions: dict[str, tuple[float, float]] = {}
    cursor_x, cursor_y, row_height, width = 0.0, 0.0, 0.0, 0.0
    for part in parts:
        # Sorted, not set order: string hashes vary per process, and so would the picture.
        component = nx.Graph()
        component.add_nodes_from(sorted(part))
        component.add_edges_from(sorted(pair for pair in days if pair[0] in part))
        local, _ = _component_layout(component, sizes, days, nx)
        boxes = _labels_at(local, 1.0, sizes, days)
        left = min(b.x - b.half_w for b in boxes)
        right = max(b.x + b.half_w for b in boxes)
        bottom = min(b.y - b.half_h for b in boxes)
        top = max(b.y + b.half_h for b in boxes)
        if cursor_x and cursor_x + (right - left) > ROW_WIDTH:
            cursor_x, cursor_y, row_height = 0.0, cursor_y - row_height - MARGIN, 0.0
        for node, (x, y) in local.items():
            positions[node] = (cursor_x + x - left, cursor_y + y - top)
        cursor_x += right - left + MARGIN
        width = max(width, cursor_x - MARGIN)
        row_height = max(row_height, top - bottom)
    height = -cursor_y + row_height
    return _Layout(positions, max(width, 1.0), max(height, 1.0))


def draw(graph: RelationGraph, *, limit: int = MAX_NODES, title: str | None = None) -> Picture:
    """Render the graph to PNG bytes, scaled so that no two labels overlap."""
    # Figure and the Agg canvas directly, not pyplot: pyplot's global state is not safe in the
    # engine's threads, and no display is ever needed.
    import networkx as nx
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown, left_out = capped(graph, limit)
    days: dict[tuple[str, str], list[str]] = {}
    for link in shown.links:
        a, b = sorted((link.source, link.target))
        labels = days.setdefault((a, b), [])
        label = day_label(link.when)
        if label and label not in labels:
            labels.append(label)
    layout = _layout(shown, days, nx)
    notes = [title] if title else []
    if left_out:
        notes.append(
            f"{left_out} less connected {'party' if left_out == 1 else 'parties'} not shown"
        )
    header = 30.0 * len(notes)
    pad = MARGIN
    width, height = layout.width + 2 * pad, layout.height + 2 * pad + header
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    canvas: Any = FigureCanvasAgg(figure)  # its draw() and get_renderer() are untyped
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    # One data unit is one pixel, so the estimated label sizes hold on the canvas.
    axes.set_xlim(-pad, layout.width + pad)
    axes.set_ylim(-layout.height - pad, pad + header)
    texts = _draw_once(axes, shown, layout.positions, days, nx)
    for i, note in enumerate(notes):
        axes.text(
            layout.width / 2,
            pad + header - 18 - 30 * i,
            note,
            ha="center",
            fontsize=12 if i == 0 and title else 10,
            color="#39415c",
        )
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in texts]
    overlaps = sum(
        1 for i, box in enumerate(boxes) for other in boxes[i + 1 :] if box.overlaps(other)
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return Picture(buffer.getvalue(), len(shown.nodes), left_out, overlaps)


def _draw_once(
    axes: Any,
    graph: RelationGraph,
    positions: dict[str, tuple[float, float]],
    days: dict[tuple[str, str], list[str]],
    nx: Any,
) -> list[Any]:
    """Draw edges, edge labels and node labels; return every boxed text drawn."""
    plain = nx.Graph()
    plain.add_nodes_from(positions)
    plain.add_edges_from(days)
    nx.draw_networkx_edges(plain, positions, ax=axes, edge_color="#8a8fa8", width=1.6)
    texts = []
    for (a, b), labels in days.items():
        if labels:
            (xa, ya), (xb, yb) = positions[a], positions[b]
            texts.append(
                axes.text(
                    (xa + xb) / 2,
                    (ya + yb) / 2,
                    ", ".join(labels),
                    fontsize=EDGE_FONT,
                    color="#39415c",
                    ha="center",
                    va="center",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9},
                )
            )
    for node in graph.nodes:
        x, y = positions[node.id]
        style = (
            {"fc": "#f1f1f1", "ec": "#9a9a9a", "ls": "--"}
            if node.unnamed
            else {"fc": "#e3e7ff", "ec": "#5865f2"}
        )
        texts.append(
            axes.text(
                x,
                y,
                _node_text(node.name),
                fontsize=UNNAMED_FONT if node.unnamed else NODE_FONT,
                style="italic" if node.unnamed else "normal",
                weight="normal" if node.unnamed else "bold",
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.35", **style},
            )
        )
    return texts
