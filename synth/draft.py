"""Declarations under construction: one numpy array per attribute, indexed by row.

Parties, goods and countries are integer indices here; strings are made only when
the world is written (``synth.tables``), which keeps a million rows cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from canonical.schema import TRANSPORT_MODES

MODE = {m: i for i, m in enumerate(TRANSPORT_MODES)}
SCHEMES = (
    "none",
    "undervaluation_ring",
    "shell_importer",
    "origin_laundering",
    "misclassification",
    "counterfeit_parcels",
    "air_security",
    "background",
    "concealment",
)
SCHEME = {s: i for i, s in enumerate(SCHEMES)}
SCHEME_RISK = {
    "undervaluation_ring": "undervaluation",
    "shell_importer": "operator",
    "origin_laundering": "origin",
    "misclassification": "misclassification",
    "counterfeit_parcels": "ipr",
    "air_security": "security",
    "concealment": "other",  # undeclared goods hidden in an ordinary consignment
}


@dataclass
class Draft:
    """Attributes of every declaration; ``true_*`` hold what really happened."""

    day: np.ndarray
    second: np.ndarray  # seconds since the world's start
    ecom: np.ndarray
    importer: np.ndarray  # -1 for consumer parcels
    private: np.ndarray  # consumer index, -1 for business rows
    declarant: np.ndarray  # -1: the importer declares for itself
    seller: np.ndarray
    mode: np.ndarray
    carrier: np.ndarray
    hs: np.ndarray  # declared HS6 index
    true_hs: np.ndarray
    cn_suffix: np.ndarray  # the two CN digits after the HS6
    origin: np.ndarray  # declared origin country index
    true_origin: np.ndarray
    dispatch: np.ndarray
    load_country: np.ndarray  # first country of the ENS itinerary
    transit: np.ndarray  # forced transit country for the ENS itinerary, -1 = none
    mass: np.ndarray
    true_value: np.ndarray  # EUR
    value: np.ndarray  # declared, EUR
    scheme: np.ndarray
    group: np.ndarray
    risk_other: np.ndarray  # background irregularity typed "other" instead of undervaluation

    @property
    def n(self) -> int:
        return len(self.day)

    def take(self, order: np.ndarray) -> None:
        """Reorder every attribute in place by ``order``."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name)[order])

    def unused(self, mask: np.ndarray) -> np.ndarray:
        """Indices of rows matching ``mask`` that no scheme has taken yet."""
        return np.flatnonzero(mask & (self.scheme == 0))
