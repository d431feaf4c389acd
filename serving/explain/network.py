"""The party network around a declaration, as known before its time, drawn as inline SVG.

``neighbourhood`` reads the graph block's fitted registry (party codes of every
declaration row and the control events): the declaration's own parties (importer,
declarant, seller, carrier; consignor and consignee when they are other parties),
their neighbours through declarations lodged strictly before the declaration (the
edges of ``graph.schema.PAIRS``), and each party's record, i.e. controls and
irregularities on the declarations it took part in, counting only results known
before that time. Neighbours are ranked (parties with irregularities first, then by
declarations shared) and capped; the rest is counted as "+N more".

``network_view`` lays it out deterministically: the declaration in the centre, its
parties on an inner ring, each party's neighbours on an outer ring within its sector,
labels placed greedily where they overlap no other label nor node;
``templates/network.svg`` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graph.schema import CORE_PAIRS, PAIRS, ROLE_COLUMN, ROLES
from serving.explain import fmt

FOCUS_ROLES = ("importer", "declarant", "seller", "carrier", "consignor", "consignee")
HIGH, SOME, CLEAN, UNKNOWN = "#c62828", "#f08c2e", "#2e7d32", "#9aa5b1"
HIGH_FACTOR = 2.0  # a record this many times the overall hit rate is drawn as high


@dataclass
class Party:
    """A node: party id, roles in this declaration (empty for neighbours), record."""

    party: str
    roles: list[str]
    controls: int = 0
    hits: int = 0
    known: bool = True  # seen in the registry before the declaration
    parent: int = -1  # index of the declaration party it hangs from (neighbours)
    weight: int = 0  # declarations shared with the parent

    def colour(self, overall: float) -> str:
        """Red: hit rate at least twice the overall one; orange: some hits; green: controlled
        without hits; grey: never controlled."""
        if self.hits > 0:
            return HIGH if self.hits / max(self.controls, 1) >= HIGH_FACTOR * overall else SOME
        return CLEAN if self.controls > 0 else UNKNOWN


@dataclass
class Neighbourhood:
    """Declaration parties (first) and neighbours, edges between them, hidden counts."""

    parties: list[Party] = field(default_factory=list)
    edges: list[tuple[int, int, int, bool]] = field(default_factory=list)  # a, b, weight, core
    hidden: dict[int, int] = field(default_factory=dict)  # focus index -> neighbours not shown
    available: bool = True

    @property
    def focus(self) -> list[int]:
        return [k for k, p in enumerate(self.parties) if p.roles]


def _records(registry: Any, time: int) -> tuple[np.ndarray, np.ndarray]:
    """(controls, hits) of every party code over results known before ``time``."""
    n_codes = len(registry.vocab)
    known = registry.control_known_at() < time
    rows = registry.control_row[known]
    hit = registry.control_hit[known] > 0
    parties = registry.parties[rows].astype(np.int64)
    # A party in two roles of one declaration counts once.
    for j in range(1, parties.shape[1]):
        for i in range(j):
            parties[parties[:, j] == parties[:, i], j] = -1
    flat = parties.ravel()
    ok = flat >= 0
    weights = np.repeat(hit, parties.shape[1])[ok].astype(np.float64)
    controls = np.bincount(flat[ok], minlength=n_codes)
    hits = np.bincount(flat[ok], weights=weights, minlength=n_codes)
    return controls, hits.astype(np.int64)


def _neighbours(parties: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour codes of ``code`` over the given rows: (codes, declarations, core flag)."""
    row_ids, nbs, core = [], [], []
    for x, y in PAIRS:
        a, b = parties[:, ROLE_COLUMN[x]], parties[:, ROLE_COLUMN[y]]
        is_core = (x, y) in CORE_PAIRS
        for mine, other in ((a, b), (b, a)):
            hit = np.flatnonzero((mine == code) & (other >= 0) & (other != code))
            row_ids.append(hit)
            nbs.append(other[hit])
            core.append(np.full(len(hit), is_core))
    rows, codes, flags = np.concatenate(row_ids), np.concatenate(nbs), np.concatenate(core)
    if len(codes) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=bool)
    keys = np.unique((codes.astype(np.int64) << 32) | rows.astype(np.int64))  # once per row
    uniq, weight = np.unique(keys >> 32, return_counts=True)
    is_core = np.zeros(len(uniq), dtype=bool)
    np.logical_or.at(is_core, np.searchsorted(uniq, codes), flags)
    return uniq, weight, is_core


def neighbourhood(
    graph_block: Any, party_ids: dict[str, str | None], time: int, limit: int = 20
) -> Neighbourhood:
    """The declaration's parties and up to ``limit`` neighbours, as of ``time`` (seconds)."""
    out = Neighbourhood()
    registry = getattr(graph_block, "registry_", None)
    # The declaration's parties, one node per party id (roles merged).
    index: dict[str, int] = {}
    for role in FOCUS_ROLES:
        pid = party_ids.get(role)
        if not pid:
            continue
        if pid in index:
            out.parties[index[pid]].roles.append(role)
            continue
        index[pid] = len(out.parties)
        out.parties.append(Party(pid, [role]))
    if registry is None or not out.parties:
        out.available = registry is not None
        return out
    codes = registry.vocab.codes(np.array([p.party for p in out.parties], dtype=object))
    before = registry.time < time
    controls, hits = _records(registry, time)
    focus_codes = codes[codes >= 0]
    rows = np.flatnonzero(before & np.isin(registry.parties, focus_codes).any(axis=1))
    sub = registry.parties[rows].astype(np.int64)
    ranked: list[list[tuple[int, int, bool]]] = []
    for k, party in enumerate(out.parties):
        c = int(codes[k])
        if c < 0:
            party.known = False
            ranked.append([])
            continue
        party.controls, party.hits = int(controls[c]), int(hits[c])
        party.known = bool((sub == c).any())
        nb, weight, core = _neighbours(sub, c)
        keep = ~np.isin(nb, focus_codes)
        nb, weight, core = nb[keep], weight[keep], core[keep]
        ids = registry.vocab.values[nb].astype(str) if len(nb) else np.zeros(0, dtype=str)
        order = (
            np.lexsort((ids, -weight, -(hits[nb] > 0).astype(np.int64)))
            if len(nb)
            else np.zeros(0, int)
        )
        ranked.append([(int(nb[j]), int(weight[j]), bool(core[j])) for j in order])
    # Round-robin over the declaration's parties, so a busy carrier cannot take every slot.
    placed: dict[int, int] = {}
    depth = 0
    while len(placed) < limit and any(depth < len(r) for r in ranked):
        for k, cands in enumerate(ranked):
            if depth < len(cands) and len(placed) < limit:
                code, weight, core = cands[depth]
                if code in placed:
                    out.edges.append((k, placed[code], weight, core))
                    continue
                placed[code] = len(out.parties)
                node = Party(
                    str(registry.vocab.values[code]),
                    [],
                    int(controls[code]),
                    int(hits[code]),
                    True,
                    k,
                    weight,
                )
                out.parties.append(node)
                out.edges.append((k, placed[code], weight, core))
        depth += 1
    for k, cands in enumerate(ranked):
        shown = sum(1 for e in out.edges if e[0] == k)
        if len(cands) > shown:
            out.hidden[k] = len(cands) - shown
    return out


def _polar(cx: float, cy: float, r: float, angle: float) -> tuple[float, float]:
    return cx + r * math.cos(angle), cy + r * math.sin(angle)


def layout(
    nb: Neighbourhood, cx: float, cy: float, r1: float, r2: float
) -> list[tuple[float, float, float]]:
    """(x, y, angle) of every party: declaration parties on the inner ring, neighbours
    spread within their parent's sector on the outer ring."""
    focus = nb.focus
    pos: list[tuple[float, float, float]] = [(cx, cy, 0.0)] * len(nb.parties)
    sector = 2 * math.pi / max(len(focus), 1)
    angle_of: dict[int, float] = {}
    for j, k in enumerate(focus):
        a = -math.pi / 2 + j * sector
        angle_of[k] = a
        pos[k] = (*_polar(cx, cy, r1, a), a)
    children: dict[int, list[int]] = {k: [] for k in focus}
    for k, p in enumerate(nb.parties):
        if not p.roles and p.parent in children:
            children[p.parent].append(k)
    for parent, kids in children.items():
        if not kids:
            continue
        width = sector * 0.86
        step = width / len(kids)
        for j, k in enumerate(kids):
            a = angle_of[parent] - width / 2 + step * (j + 0.5)
            radius = r2 + (14 if len(kids) > 6 and j % 2 else 0)
            pos[k] = (*_polar(cx, cy, radius, a), a)
    return pos


def _tooltip(p: Party) -> str:
    role = " / ".join(p.roles) if p.roles else "linked party"
    if not p.known:
        return f"{p.party} ({role}): not seen before this declaration"
    hits = fmt.plural(p.hits, "irregularity", "irregularities")
    record = f"{hits} in {fmt.plural(p.controls, 'control')}" if p.controls else "never controlled"
    shared = f"; {fmt.plural(p.weight, 'declaration')} shared" if p.weight else ""
    return f"{p.party} ({role}): {record} before this declaration{shared}"


# Label sizes (px) by CSS class, and the width of one character as a share of the size:
# a generous estimate for ids of capitals and digits in the page's sans-serif fonts.
FONT = {"role": 11.0, "pid": 12.0, "pid small": 10.5, "more": 10.5}
CHAR_WIDTH = 0.62
LINE = 12.0  # baseline to baseline in a focus party's label block


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle of the drawing (a label's extent, a node's)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, gap: float = 1.0) -> bool:
        """Whether the two boxes come closer than ``gap`` pixels."""
        return not (
            self.x1 + gap <= other.x0
            or other.x1 + gap <= self.x0
            or self.y1 + gap <= other.y0
            or other.y1 + gap <= self.y0
        )

    def inside(self, width: float, height: float) -> bool:
        return self.x0 >= 0 and self.y0 >= 0 and self.x1 <= width and self.y1 <= height


@dataclass(frozen=True)
class Label:
    """One SVG text line: position, anchor, class and the box it covers."""

    x: float
    y: float
    text: str
    cls: str
    anchor: str
    box: Box


def text_box(x: float, y: float, content: str, cls: str, anchor: str) -> Box:
    """The estimated extent of a text line with baseline ``y``, anchored at ``x``."""
    size = FONT.get(cls, 11.0)
    width = CHAR_WIDTH * size * len(content)
    left = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
    return Box(left, y - 0.85 * size, left + width, y + 0.25 * size)


def _block(
    x: float, y: float, lines: list[tuple[str, str]], anchor: str
) -> tuple[list[Label], Box]:
    """Lines stacked from baseline ``y`` down, and the box around them all."""
    labels = [
        Label(x, y + LINE * j, t, c, anchor, text_box(x, y + LINE * j, t, c, anchor))
        for j, (t, c) in enumerate(lines)
    ]
    boxes = [lab.box for lab in labels]
    whole = Box(
        min(b.x0 for b in boxes),
        min(b.y0 for b in boxes),
        max(b.x1 for b in boxes),
        max(b.y1 for b in boxes),
    )
    return labels, whole


class Placer:
    """Greedy label placement: each label takes the first candidate position whose box
    stays inside the drawing and clear of every box placed before (labels and nodes)."""

    def __init__(self, width: float, height: float, obstacles: list[Box]) -> None:
        self.width, self.height = width, height
        self.taken = list(obstacles)

    def fits(self, box: Box) -> bool:
        return box.inside(self.width, self.height) and not any(box.overlaps(b) for b in self.taken)

    def place(self, candidates: list[tuple[list[Label], Box]]) -> tuple[list[Label], Box] | None:
        """The first candidate that fits (its box then taken), or None."""
        for labels, box in candidates:
            if self.fits(box):
                self.taken.append(box)
                return labels, box
        return None


def _focus_candidates(
    p: Party, k: int, nb: Neighbourhood, x: float, y: float, angle: float
) -> list[tuple[list[Label], Box]]:
    """Where a declaration party's role, id and hidden count may go: first beside it on the
    clockwise tangent (clear of the spoke and of the outer ring), then the other side,
    below, above; the id shortened last."""
    tx, ty = -math.sin(angle), math.cos(angle)
    out = []
    for size in (22, 12):
        lines = [(" / ".join(p.roles).upper(), "role"), (fmt.clip(p.party, size), "pid")]
        if k in nb.hidden:
            lines.append((f"+{fmt.count(nb.hidden[k])} more linked", "more"))
        tall = LINE * (len(lines) - 1)
        right = (x + 22, y - 8, "start")
        left = (x - 22, y - 8, "end")
        below = (x, y + 30, "middle")
        above = (x, y - 22 - tall, "middle")
        if abs(tx) > 0.5:
            spots = [right, left, below, above] if tx > 0 else [left, right, below, above]
        else:
            spots = [below, above, right, left] if ty > 0 else [above, below, right, left]
        out += [_block(lx, ly, lines, anchor) for lx, ly, anchor in spots]
    return out


def _neighbour_candidates(
    p: Party, x: float, y: float, angle: float
) -> list[tuple[list[Label], Box]]:
    """Where a neighbour's id may go: beside the node on its outer side, above or below
    it, then further out along its spoke (joined to the node by a leader line); the id
    shortened to 10 characters when no full-length spot is free."""
    right = math.cos(angle) >= 0
    side = 1 if right else -1
    anchor = "start" if right else "end"
    out: list[tuple[list[Label], Box]] = []
    for size in (18, 10):
        content = fmt.clip(p.party, size)

        def one(lx: float, ly: float, anc: str, content: str = content) -> tuple[list[Label], Box]:
            return _block(lx, ly, [(content, "pid small")], anc)

        out += [
            one(x + 11 * side, y + 4, anchor),
            one(x, y - 11, "middle"),
            one(x, y + 19, "middle"),
        ]
        for extra in (16.0, 30.0, 44.0):
            ex, ey = x + extra * math.cos(angle), y + extra * math.sin(angle)
            out.append(one(ex + 4 * side, ey + 4, anchor))
        # A crowded sector: a column of labels beside the node, stacked up and down.
        for step in range(1, 9):
            for dy in (step * LINE, -step * LINE):
                out.append(one(x + (14 + 2 * step) * side, y + 4 + dy, anchor))
    return out


def network_view(
    nb: Neighbourhood, overall: float = 0.05, width: int = 700, height: int = 600
) -> dict[str, Any]:
    """The neighbourhood's drawing (``templates/network.svg`` renders it): nodes on two
    rings, edges, labels placed so that no two overlap, and a legend (``overall``: the
    global hit rate). A label with no free spot is left out; its node keeps its tooltip."""
    cx, cy = width / 2, height / 2 - 16
    r1, r2 = 118.0, 225.0
    pos = layout(nb, cx, cy, r1, r2)
    edges = [
        {"x1": cx, "y1": cy, "x2": pos[k][0], "y2": pos[k][1], "cls": "edge own", "width": None}
        for k in nb.focus
    ]
    for a, b, weight, core in nb.edges:
        (xa, ya, _), (xb, yb, _) = pos[a], pos[b]
        primary = nb.parties[b].parent == a
        stroke = 1.0 + min(math.log1p(weight), 4.0) if primary else 1.0
        cls = "edge" + ("" if core else " carrier") + ("" if primary else " cross")
        edges.append({"x1": xa, "y1": ya, "x2": xb, "y2": yb, "cls": cls, "width": stroke})
    legend_top = height - 28
    nodes_boxes = [
        Box(x - r, y - r, x + r, y + r)
        for k, (x, y, _) in enumerate(pos)
        for r in ((15.0 if nb.parties[k].roles else 8.0),)
    ]
    placer = Placer(width, legend_top, [*nodes_boxes, Box(cx - 36, cy - 15, cx + 36, cy + 15)])
    labels: dict[int, list[Label]] = {}
    leaders: dict[int, tuple[float, float, float, float]] = {}
    order = [*nb.focus, *(k for k, p in enumerate(nb.parties) if not p.roles)]
    for k in order:
        p = nb.parties[k]
        x, y, angle = pos[k]
        if p.roles:
            found = placer.place(_focus_candidates(p, k, nb, x, y, angle))
        else:
            found = placer.place(_neighbour_candidates(p, x, y, angle))
        if found is None:
            continue
        labels[k], box = found
        if not p.roles and math.dist((x, y), _nearest(box, x, y)) > 12:
            lx, ly = _nearest(box, x, y)
            leaders[k] = (x, y, lx, ly)
    nodes = []
    for k, p in enumerate(nb.parties):
        x, y, _ = pos[k]
        nodes.append(
            {
                "party": p.party,
                "role": " ".join(p.roles) or "neighbour",
                "hits": str(p.hits),
                "controls": str(p.controls),
                "tip": _tooltip(p),
                "x": x,
                "y": y,
                "r": 15 if p.roles else 8,
                "fill": p.colour(overall),
                "cls": "node" + ("" if p.known else " new"),
                "initial": p.roles[0][0].upper() if p.roles else None,
                "labels": labels.get(k, []),
                "leader": leaders.get(k),
            }
        )
    legend_y = height - 14
    legend = []
    x = 12.0
    for colour, label in (
        (HIGH, f"hit rate ≥ {fmt.pct(HIGH_FACTOR * overall)}"),
        (SOME, "some irregularities"),
        (CLEAN, "controlled, none found"),
        (UNKNOWN, "never controlled"),
    ):
        legend.append({"x": x, "colour": colour, "label": label})
        x += 30 + 5.6 * len(label)
    return {
        "width": width,
        "height": height,
        "cx": cx,
        "cy": cy,
        "edges": edges,
        "nodes": nodes,
        "legend": legend,
        "legend_y": float(legend_y),
        "carrier_x": x,
    }


def _nearest(box: Box, x: float, y: float) -> tuple[float, float]:
    """The point of ``box`` nearest to (x, y): where a leader line ends."""
    return min(max(x, box.x0), box.x1), min(max(y, box.y0), box.y1)


def party_ids(ctx: Any, i: int = 0) -> dict[str, str | None]:
    """The declaration's party ids by role, from an explanation context."""
    return {role: ctx.s(role, i) for role in ROLES}
