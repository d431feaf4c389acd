"""Entity keys of a declaration: parties, goods codes, pairs, routes, extra attributes.

Every profile is keyed by a string derived here once, so training and serving look
up the same entity the same way. Missing components give ``None`` (an unseen key).
"""

from __future__ import annotations

import numpy as np

from features.inputs import Inputs

SINGLE = {
    "importer": "importer_id",
    "declarant": "declarant_id",
    "seller": "seller_id",
    "office": "office",
    "origin": "origin_country",
}
HS_PREFIX = {"hs2": 2, "hs4": 4, "hs6": 6}
PAIRS = {
    "importer_declarant": ("importer", "declarant"),
    "importer_seller": ("importer", "seller"),
    "hs6_origin": ("hs6", "origin"),
    "importer_hs6": ("importer", "hs6"),
    "hs2_route": ("hs2", "route"),
}
ENS_KEYS = {"carrier": "carrier_id", "route": "itinerary", "ens_content": "content_key"}


def _prefix(values: np.ndarray, size: int) -> np.ndarray:
    return np.array(
        [v[:size] if isinstance(v, str) and len(v) >= size else None for v in values], dtype=object
    )


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array(
        [None if x is None or y is None else f"{x}\x1f{y}" for x, y in zip(a, b, strict=True)],
        dtype=object,
    )


def key_values(inputs: Inputs, key: str) -> np.ndarray:
    """The key string of every row (cached on the inputs)."""
    cached = inputs._keys.get(key)
    if cached is not None:
        return cached
    if key in SINGLE:
        out = inputs.text[SINGLE[key]]
    elif key in HS_PREFIX:
        out = _prefix(inputs.text["hs_code"], HS_PREFIX[key])
    elif key in PAIRS:
        left, right = PAIRS[key]
        out = _pair(key_values(inputs, left), key_values(inputs, right))
    elif key in ENS_KEYS:
        if inputs.ens is None:
            out = np.full(inputs.n, None, dtype=object)
        else:
            out = np.where(inputs.ens["present"], inputs.ens[ENS_KEYS[key]], None)
    elif key.startswith("extra_cat__"):
        out = inputs.text.get(key, np.full(inputs.n, None, dtype=object))
    else:
        raise KeyError(f"unknown entity key {key!r}")
    inputs._keys[key] = out
    return out
