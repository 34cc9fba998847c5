"""The state diagram, the small bar charts and credential pathways, drawn as SVG on our side
(no network)."""

import math
import textwrap
from dataclasses import dataclass

from workflow.credentials.models import Pathway
from workflow.machine import TRANSITIONS, State

# Where each state sits in the diagram: the main path on top, the ends below.
POSITIONS: dict[State, tuple[int, int]] = {
    State.DRAFT: (80, 40),
    State.DEPARTMENT_REVIEW: (270, 40),
    State.RUBRIC_REVIEW: (460, 40),
    State.DESIGN_REVIEW: (650, 40),
    State.PUBLISHED: (840, 40),
    State.RETURNED: (365, 170),
    State.REJECTED: (650, 290),
    State.RETIRED: (840, 170),
    State.WITHDRAWN: (80, 290),
}
BOX_W, BOX_H = 140, 40


@dataclass(frozen=True)
class Node:
    state: str
    label: str
    x: int
    y: int
    current: bool


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    lx: float
    ly: float
    # Withdraw edges (five of them, all to one state) are drawn light, named once in a legend.
    minor: bool = False


def _border_point(cx: float, cy: float, tx: float, ty: float) -> tuple[float, float]:
    """Where the line from a box's centre towards (tx, ty) leaves the box."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((BOX_W / 2) / abs(dx) if dx else math.inf,
                (BOX_H / 2) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def state_diagram(current: str) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges from the transition table; the current state is marked."""
    nodes = [Node(s.value, s.value.replace("_", " "), x, y, s.value == current)
             for s, (x, y) in POSITIONS.items()]
    pairs: dict[tuple[State, State], list[str]] = {}
    for row in TRANSITIONS:
        for source in row.source:
            names = pairs.setdefault((source, row.dest), [])
            if row.trigger not in names:
                names.append(row.trigger)
    edges = []
    for (source, dest), triggers in pairs.items():
        (sx, sy), (dx, dy) = POSITIONS[source], POSITIONS[dest]
        x1, y1 = _border_point(sx, sy, dx, dy)
        x2, y2 = _border_point(dx, dy, sx, sy)
        if (dest, source) in pairs:
            # A pair of opposite edges (return and resubmit) runs side by side, not on top.
            length = math.hypot(x2 - x1, y2 - y1) or 1
            ox, oy = -(y2 - y1) / length * 6, (x2 - x1) / length * 6
            x1, y1, x2, y2 = x1 + ox, y1 + oy, x2 + ox, y2 + oy
        # Labels sit near the source end, where fewer edges cross than in the middle; on the
        # main path (a short horizontal edge) they sit above its middle.
        along = 0.5 if y1 == y2 else 0.6 if dest is State.REJECTED else 0.3
        edges.append(Edge(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1),
                          ", ".join(triggers), round(x1 + (x2 - x1) * along, 1),
                          round(y1 + (y2 - y1) * along - 4, 1),
                          minor=triggers == ["withdraw"]))
    return nodes, edges


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str
    width: float
    y: int


def bars(values: dict[str, float | None], width: int = 240, step: int = 26) -> list[Bar]:
    """Horizontal bars scaled to the largest value; a missing value draws no bar."""
    top = max((v for v in values.values() if v), default=0) or 1
    return [
        Bar(label=name.replace("_", " "), value=value or 0,
            shown="no data" if value is None else f"{value:g}",
            width=round((value or 0) / top * width, 1), y=i * step)
        for i, (name, value) in enumerate(values.items())
    ]


# --- a credential's pathway: what stacks into what, in layers from top to bottom -------------

CARD_W, CARD_H, GAP_X, GAP_Y = 200, 64, 24, 44


@dataclass(frozen=True)
class Card:
    id: str
    lines: tuple[str, ...]
    title: str
    status: str
    x: float
    y: float
    current: bool


@dataclass(frozen=True)
class Arrow:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class PathwayDrawing:
    cards: list[Card]
    arrows: list[Arrow]
    width: int
    height: int
    widest_layer: int
    card_width: int = CARD_W
    card_height: int = CARD_H


def _title_lines(title: str, width: int = 24) -> tuple[str, ...]:
    lines = textwrap.wrap(title, width) or [""]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder="…")]
    return tuple(lines)


def _mean_place(node_id: str, edges: list[tuple[str, str]], order: dict[str, float]) -> float:
    above = [order[s] for s, t in edges if t == node_id and s in order]
    return sum(above) / len(above) if above else math.inf


def pathway_drawing(pathway: Pathway) -> PathwayDrawing:
    """Lay the pathway out in layers: a credential sits above the ones it stacks into."""
    ids = [node.id for node in pathway.nodes]
    layer = dict.fromkeys(ids, 0)
    edges = [(s, t) for s, t in pathway.edges if s in layer and t in layer and s != t]
    # Longest path from the top; the pathway has no cycles, and the bound keeps it so anyway.
    for _ in range(len(ids)):
        changed = False
        for source, target in edges:
            if layer[target] < layer[source] + 1 < len(ids):
                layer[target], changed = layer[source] + 1, True
        if not changed:
            break
    layers: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    titles = {node.id: node.title for node in pathway.nodes}
    for node_id in sorted(ids, key=lambda i: titles[i].lower()):
        layers[layer[node_id]].append(node_id)
    # Each layer under the average place of what points at it, so fewer arrows cross.
    order: dict[str, float] = {}
    for depth, members in enumerate(layers):
        if depth:
            members.sort(key=lambda node_id: _mean_place(node_id, edges, order))
        order.update({node_id: float(i) for i, node_id in enumerate(members)})
    widest = max((len(m) for m in layers), default=1)
    width = widest * (CARD_W + GAP_X) + GAP_X
    places: dict[str, tuple[float, float]] = {}
    for depth, members in enumerate(layers):
        left = (width - len(members) * (CARD_W + GAP_X) + GAP_X) / 2
        for i, node_id in enumerate(members):
            places[node_id] = (left + i * (CARD_W + GAP_X), GAP_Y / 2 + depth * (CARD_H + GAP_Y))
    cards = [Card(node.id, _title_lines(node.title), node.title, node.status,
                  *places[node.id], current=node.id == pathway.credential.id)
             for node in pathway.nodes]
    arrows = [Arrow(places[s][0] + CARD_W / 2, places[s][1] + CARD_H,
                    places[t][0] + CARD_W / 2, places[t][1]) for s, t in edges]
    height = int(len(layers) * (CARD_H + GAP_Y))
    return PathwayDrawing(cards, arrows, int(width), height, widest)
