"""Reason codes: TreeSHAP contributions of features grouped into stable, readable reasons.

Each feature maps to one reason code within a family (valuation, classification,
origin and route, operator history, network, AEO, filing). Codes are stable across
model versions: officers and audit trails refer to them; the text says in plain words
what pushed the score up.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reason:
    """A stable reason code, its family and its text."""

    code: str
    family: str
    text: str


# Ordered (pattern, reason): the first matching pattern wins.
RULES: tuple[tuple[str, Reason], ...] = (
    (
        r"^(uv_kg_z|uv_unit_z|log_value_per_kg|log_value_per_unit)",
        Reason(
            "VAL-UNIT", "valuation", "declared value per kg or per unit far from the usual level"
        ),
    ),
    (
        r"^(uv_kg_n|uv_unit_n)",
        Reason("VAL-BASE", "valuation", "few comparable declarations for this product and origin"),
    ),
    (r"^(log_value|log_mass)$", Reason("VAL-SIZE", "valuation", "size of the consignment")),
    (
        r"^(duty_spread_hs4|duty_vs_hs6|ens_hs6_mismatch|duty_rate|preference_claimed)",
        Reason(
            "CLS-DUTY",
            "classification",
            "declared code carries a lower duty than related codes, or differs from the ENS goods",
        ),
    ),
    (r"^(hs2|hs4|hs6)__", Reason("CLS-HIST", "classification", "history of this commodity code")),
    (
        r"^(loading_differs_origin|origin_in_itinerary|dispatch_differs_origin)",
        Reason(
            "RTE-ORIGIN", "origin and route", "route or dispatch country does not match the origin"
        ),
    ),
    (
        r"^(route_rarity|n_transit|route__|hs2_route)",
        Reason("RTE-RARE", "origin and route", "unusual route for these goods"),
    ),
    (
        r"^(origin__|hs6_origin__)",
        Reason("RTE-HIST", "origin and route", "history of goods from this origin"),
    ),
    (r"^mode__", Reason("RTE-MODE", "origin and route", "mode of transport")),
    (
        r"^(lead_time_h|arrival_gap_h|pre_loading|amendments|duplicates|ens_present|"
        r"log_gross_net_ratio|containerised)",
        Reason("FIL-ENS", "filing", "timing or quality of the entry summary declaration"),
    ),
    (r"^graph__", Reason("NET-LINK", "network", "links to parties with past irregularities")),
    (
        r"^(importer|importer_declarant|importer_seller)__",
        Reason("OPR-IMP", "operator history", "importer's history and activity"),
    ),
    (r"^declarant__", Reason("OPR-DEC", "operator history", "declarant's history")),
    (r"^seller__", Reason("OPR-SEL", "operator history", "seller's history")),
    (r"^(carrier|office)__", Reason("OPR-CAR", "operator history", "carrier or office history")),
    (r"_aeo$", Reason("AEO", "AEO", "AEO status of the parties")),
    (r"^extra_", Reason("EXT", "other", "an attribute of the administration's own data")),
)
OTHER = Reason("OTH", "other", "other factors")


def reason_for(feature: str) -> Reason:
    """The reason a feature belongs to."""
    for pattern, reason in RULES:
        if re.search(pattern, feature):
            return reason
    return OTHER


@dataclass(frozen=True)
class Grouping:
    """Reason codes of a feature layout: membership matrix and the column lists."""

    reasons: tuple[Reason, ...]  # one per code, codes sorted
    member: np.ndarray  # (F, G) 0/1
    columns: tuple[np.ndarray, ...]  # feature columns of each code

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@functools.lru_cache(maxsize=16)
def grouping(names: tuple[str, ...]) -> Grouping:
    """The reason groups of a feature layout (cached per layout: matching every name
    against the patterns is slow, and a model's layout is fixed)."""
    per_feature = [reason_for(n) for n in names]
    by_code = {r.code: r for r in per_feature}
    codes = sorted(by_code)
    index = {c: g for g, c in enumerate(codes)}
    member = np.zeros((len(names), len(codes)))
    for j, r in enumerate(per_feature):
        member[j, index[r.code]] = 1.0
    columns = tuple(np.flatnonzero(member[:, g]) for g in range(len(codes)))
    return Grouping(tuple(by_code[c] for c in codes), member, columns)


def top_reasons(
    contributions: np.ndarray, names: list[str] | tuple[str, ...], k: int = 3
) -> list[list[tuple[Reason, float, str]]]:
    """Per row, the k reasons with the largest positive summed contribution, each with its
    strongest feature. ``contributions`` is (n, F) without the bias column."""
    groups = grouping(tuple(names))
    by_reason = contributions @ groups.member
    out = []
    for i in range(len(contributions)):
        order = np.argsort(-by_reason[i])[:k]
        row = []
        for c in order:
            if by_reason[i, c] <= 0:
                break
            cols = groups.columns[c]
            best = cols[np.argmax(contributions[i, cols])]
            row.append((groups.reasons[c], float(by_reason[i, c]), names[best]))
        out.append(row)
    return out
