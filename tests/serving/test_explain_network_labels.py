"""Party-network labels: no two overlap, on a crowded network, and they stay in the drawing.

Built from a hand-made neighbourhood (no model needed): six declaration parties with long
ids, 20 partners of one party crowded in its sector, hidden counts on every party.
"""

from __future__ import annotations

import itertools

import pytest

from serving.explain.network import FOCUS_ROLES, Box, Neighbourhood, Party, network_view


def crowded(partners: int = 20, long_ids: bool = True) -> Neighbourhood:
    """Every focus role a distinct party; ``partners`` neighbours, all of the importer."""
    nb = Neighbourhood()
    for k, role in enumerate(FOCUS_ROLES):
        pid = f"{role.upper()}-PARTY-WITH-A-LONG-ID-0001" if long_ids else f"{role[:3].upper()}{k}"
        nb.parties.append(Party(pid, [role], controls=5, hits=1))
    for j in range(partners):
        nb.parties.append(Party(f"NL{j:02d}PARTNER0000000{j:04d}", [], 3, j % 2, True, 0, 1 + j))
        nb.edges.append((0, len(nb.parties) - 1, 1 + j, True))
    nb.hidden = {k: 100 + k for k in range(len(FOCUS_ROLES))}
    return nb


def spread(partners_each: int = 4) -> Neighbourhood:
    """Six parties, each with a few partners (labels at every angle of the ring)."""
    nb = crowded(0)
    for k in range(len(FOCUS_ROLES)):
        for j in range(partners_each):
            nb.parties.append(Party(f"P{k}{j}-0000000000000{j}", [], 0, 0, True, k, 1))
            nb.edges.append((k, len(nb.parties) - 1, 1, True))
    return nb


def label_boxes(view: dict) -> list[tuple[str, Box]]:
    """Each node's label block (all its lines) as one box."""
    out = []
    for node in view["nodes"]:
        if node["labels"]:
            boxes = [label.box for label in node["labels"]]
            out.append(
                (
                    node["party"],
                    Box(
                        min(b.x0 for b in boxes),
                        min(b.y0 for b in boxes),
                        max(b.x1 for b in boxes),
                        max(b.y1 for b in boxes),
                    ),
                )
            )
    return out


@pytest.mark.parametrize(
    "nb", [crowded(), crowded(long_ids=False), spread()], ids=["crowded", "short-ids", "spread"]
)
def test_no_two_labels_overlap(nb: Neighbourhood) -> None:
    view = network_view(nb)
    boxes = label_boxes(view)
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b, gap=0.0), f"labels of {a} and {b} overlap"
    for party, box in boxes:
        assert box.inside(view["width"], view["height"]), party


def test_every_declaration_party_and_most_partners_keep_a_label() -> None:
    view = network_view(crowded())
    labelled = {n["party"] for n in view["nodes"] if n["labels"]}
    focus = [n for n in view["nodes"] if n["initial"]]
    assert all(n["party"] in labelled for n in focus)
    partners = [n for n in view["nodes"] if not n["initial"]]
    assert sum(n["party"] in labelled for n in partners) >= 0.75 * len(partners)
    # Roles stay readable: the role line of each declaration party is drawn in full.
    for n in focus:
        assert n["labels"][0].text == n["role"].upper().replace(" ", " / ")
