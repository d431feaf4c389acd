"""Entity keys of a declaration: parties, goods codes, pairs, routes, extra attributes.

Every profile is keyed by a string derived here once, so training and serving look
up the same entity the same way. Missing components give ``None`` (an unseen key).
"""

from __future__ import annotations

import numpy as np

from features.inputs import Inputs
from features.vocab import Vocabulary

CACHE_ROWS = 100_000  # codes are cached on inputs of up to this many rows (batches, not fits)

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


def key_codes(inputs: Inputs, key: str, vocab: Vocabulary, add: bool = False) -> np.ndarray:
    """Codes of the key's values in ``vocab`` (``add``: appending the unseen ones first).

    Cached on the inputs, so that a batch scored and then folded (the live state) looks
    its keys up once: codes never change, and values the vocabulary gained since the
    cached lookup are looked up again. The cached array is never handed out.
    """
    cached = inputs._codes.get((key, vocab))
    if cached is not None and cached[0] == len(vocab) and not (add and (cached[1] < 0).any()):
        return cached[1].copy()
    values = key_values(inputs, key)
    if cached is None:
        codes = vocab.encode(values) if add else vocab.codes(values)
    else:
        codes = cached[1].copy()
        miss = np.flatnonzero(codes < 0)
        if len(miss):
            pick = values[miss]
            codes[miss] = vocab.encode(pick) if add else vocab.codes(pick)
    if inputs.n <= CACHE_ROWS:
        inputs._codes[(key, vocab)] = (len(vocab), codes.copy())
    return codes
