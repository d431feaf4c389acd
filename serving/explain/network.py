"""The party network around a declaration, as known before its time, drawn as inline SVG.

``neighbourhood`` reads the graph block's fitted registry (party codes of every
declaration row and the control events): the declaration's own parties (importer,
declarant, seller, carrier; consignor and consignee when they are other parties),
their neighbours through declarations lodged strictly before the declaration (the
edges of ``graph.schema.PAIRS``), and each party's record, i.e. controls and
irregularities on the declarations it took part in, counting only results known
before that time. Neighbours are ranked (parties with irregularities first, then by
declarations shared) and capped; the rest is counted as "+N more".

``network_svg`` lays it out deterministically: the declaration in the centre, its
parties on an inner ring, each party's neighbours on an outer ring within its sector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graph.schema import CORE_PAIRS, PAIRS, ROLE_COLUMN, ROLES
from serving.explain import fmt
from serving.explain.markup import clip, tag, text, title, void

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


def _focus_labels(
    p: Party, k: int, nb: Neighbourhood, x: float, y: float, angle: float
) -> list[str]:
    """Role, id and hidden count beside a declaration party, on the clockwise tangent so
    they clear both the spoke from the centre and the outer ring."""
    tx, ty = -math.sin(angle), math.cos(angle)
    lines = [(" / ".join(p.roles).upper(), "role"), (clip(p.party, 22), "pid")]
    if k in nb.hidden:
        lines.append((f"+{fmt.count(nb.hidden[k])} more linked", "more"))
    if abs(tx) > 0.5:
        lx, anchor = x + 22 * (1 if tx > 0 else -1), "start" if tx > 0 else "end"
        ly = y - 8
    else:
        lx, anchor = x, "middle"
        ly = y + 30 if ty > 0 else y - 22 - 12 * (len(lines) - 1)
    return [
        text(lx, ly + 12 * j, content, class_=cls, text_anchor=anchor)
        for j, (content, cls) in enumerate(lines)
    ]


def network_svg(
    nb: Neighbourhood, overall: float = 0.05, width: int = 700, height: int = 600
) -> str:
    """The neighbourhood as an inline SVG with a legend (``overall``: the global hit rate)."""
    cx, cy = width / 2, height / 2 - 16
    r1, r2 = 118.0, 225.0
    pos = layout(nb, cx, cy, r1, r2)
    parts = [void("rect", x=0, y=0, width=width, height=height, fill="#ffffff")]
    for k in nb.focus:
        x, y, _ = pos[k]
        parts.append(void("line", x1=cx, y1=cy, x2=x, y2=y, class_="edge own"))
    for a, b, weight, core in nb.edges:
        (xa, ya, _), (xb, yb, _) = pos[a], pos[b]
        primary = nb.parties[b].parent == a
        stroke = 1.0 + min(math.log1p(weight), 4.0) if primary else 1.0
        cls = "edge" + ("" if core else " carrier") + ("" if primary else " cross")
        parts.append(void("line", x1=xa, y1=ya, x2=xb, y2=yb, stroke_width=stroke, class_=cls))
    parts.append(void("rect", x=cx - 36, y=cy - 15, width=72, height=30, rx=6, class_="decl"))
    parts.append(text(cx, cy + 4, "declaration", class_="decl-label", text_anchor="middle"))
    for k, p in enumerate(nb.parties):
        x, y, angle = pos[k]
        focus = bool(p.roles)
        circle = void(
            "circle",
            cx=x,
            cy=y,
            r=15 if focus else 8,
            fill=p.colour(overall),
            class_="node" + ("" if p.known else " new"),
        )
        if focus:
            initial = text(x, y + 4, p.roles[0][0].upper(), class_="initial", text_anchor="middle")
            labels = [initial, *_focus_labels(p, k, nb, x, y, angle)]
        else:
            right = math.cos(angle) >= 0
            labels = [
                text(
                    x + (11 if right else -11),
                    y + 4,
                    clip(p.party, 18),
                    class_="pid small",
                    text_anchor="start" if right else "end",
                )
            ]
        parts.append(
            tag(
                "g",
                [title(_tooltip(p)), circle, *labels],
                class_="party",
                data_party=p.party,
                data_role=" ".join(p.roles) or "neighbour",
                data_hits=str(p.hits),
                data_controls=str(p.controls),
            )
        )
    legend_y = height - 14
    items = (
        (HIGH, f"hit rate ≥ {fmt.pct(HIGH_FACTOR * overall)}"),
        (SOME, "some irregularities"),
        (CLEAN, "controlled, none found"),
        (UNKNOWN, "never controlled"),
    )
    x = 12.0
    for colour, label in items:
        parts.append(void("circle", cx=x + 6, cy=legend_y - 4, r=6, fill=colour))
        parts.append(text(x + 16, legend_y, label, class_="legend"))
        x += 30 + 5.6 * len(label)
    parts.append(
        void("line", x1=x, x2=x + 22, y1=legend_y - 4, y2=legend_y - 4, class_="edge carrier")
    )
    parts.append(text(x + 28, legend_y, "carrier link", class_="legend"))
    return tag(
        "svg",
        parts,
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label="Party network around the declaration",
        class_="network",
        id="network",
    )


def party_ids(ctx: Any, i: int = 0) -> dict[str, str | None]:
    """The declaration's party ids by role, from an explanation context."""
    return {role: ctx.s(role, i) for role in ROLES}
