"""Route and filing features: transport mode, itinerary, ENS timing and data quality.

Mode and dispatch-vs-origin come from the declaration. With ENS data: transit count,
loading country vs origin, itinerary rarity for the HS chapter (as of the row's time),
filing lead time, air pre-loading filing, amendments, duplicate filings, HS6 of the ENS
items vs the declared code, gross vs net mass. Rows without a linked ENS get zeros and
``ens_present = 0``; a history without ENS data drops the ENS features (see dropped()).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from canonical.schema import TRANSPORT_MODES
from features.blocks import ControlEvents, EnsEvents, State
from features.growable import Buffers
from features.inputs import Inputs
from features.keys import key_values
from features.layered import LayeredIndex
from features.vocab import Vocabulary

ENS_FEATURES = (
    "ens_present",
    "n_transit",
    "loading_differs_origin",
    "origin_in_itinerary",
    "lead_time_h",
    "arrival_gap_h",
    "pre_loading",
    "amendments",
    "duplicates",
    "ens_hs6_mismatch",
    "log_gross_net_ratio",
    "containerised",
    "route_rarity",
)


def _itinerary_parts(itinerary: np.ndarray) -> list[list[str]]:
    """Countries of each itinerary; parsed once per distinct itinerary."""
    if len(itinerary) <= 8:
        return [v.split("-") if isinstance(v, str) and v else [] for v in itinerary]
    codes, uniques = pd.factorize(pd.Series(itinerary, dtype=object))
    parsed = [v.split("-") if isinstance(v, str) and v else [] for v in uniques]
    parsed.append([])  # code -1: missing
    return [parsed[c] for c in codes]


class RouteBlock:
    """Mode, itinerary and ENS filing features."""

    name = "route"

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        self.with_ens_ = inputs.ens is not None
        self.vocab_ = {"hs2": Vocabulary(), "hs2_route": Vocabulary(), "content": Vocabulary()}
        self.hs2_ = np.zeros(0, np.int64)
        self.hs2_route_ = np.zeros(0, np.int64)
        self.time_ = np.zeros(0, np.int64)
        self.filing_vocab_ = Vocabulary()
        self.filing_first_ = np.zeros(0, np.int64)
        self.filing_content_ = np.zeros(0, np.int64)
        self._build()
        self._append(inputs, ens)

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        self._append(inputs, ens)

    def wanted_filings(self, filing_id: np.ndarray, filed_at: np.ndarray) -> np.ndarray:
        """Which filing versions an update must fold: filings not seen yet, and versions
        filed before the first one seen of their filing (they move its first filing)."""
        if not self.with_ens_:
            return np.zeros(len(filing_id), dtype=bool)
        codes = self.filing_vocab_.codes(filing_id)
        known = codes >= 0
        earlier = np.zeros(len(codes), dtype=bool)
        earlier[known] = np.asarray(filed_at)[known] < self.filing_first_[codes[known]]
        return ~known | earlier

    def _append(self, inputs: Inputs, ens: EnsEvents | None) -> None:
        if not self.with_ens_:
            return
        grow = self._grow()
        new_codes = {}
        for name, target in (("hs2", "hs2_"), ("hs2_route", "hs2_route_")):
            values = key_values(inputs, name)
            if name == "hs2":  # count only rows with a route, so the ratio is a frequency
                values = np.where(key_values(inputs, "route") != None, values, None)  # noqa: E711
            new_codes[name] = self.vocab_[name].encode(values)
            setattr(self, target, grow.extend(name, getattr(self, target), new_codes[name]))
        self.time_ = grow.extend("time", self.time_, inputs.time)
        self.hs2_index_.fold(new_codes["hs2"], inputs.time, {})
        self.hs2_route_index_.fold(new_codes["hs2_route"], inputs.time, {})
        if ens is not None and len(ens):
            # A filing's content is its first version's, set when the filing is first seen:
            # an amendment arriving in a later update must not rewrite it.
            n_old = len(self.filing_vocab_)
            codes = self.filing_vocab_.encode(ens.filing_id)
            new = codes >= n_old
            room = len(self.filing_vocab_) - n_old
            top = np.iinfo(np.int64).max
            self.filing_first_ = grow.extend("first", self.filing_first_, np.full(room, top))
            self.filing_content_ = grow.extend("content", self.filing_content_, np.full(room, -1))
            first, content = self.filing_first_, self.filing_content_
            before = first[codes[~new]].copy()
            np.minimum.at(first, codes, ens.first_filed)
            content[codes[new]] = self.vocab_["content"].encode(ens.content_key[new])
            if np.any(first[codes[~new]] < before):  # an earlier version came late (rare)
                self.content_index_ = LayeredIndex(content, first, {})
            else:
                fresh = np.arange(n_old, len(first))
                self.content_index_.fold(content[fresh], first[fresh], {})

    def refresh(self) -> None:
        """Merge the events folded in since the last merge into the indices' base, and
        the vocabularies' recent values into their lookup tables."""
        for index in (self.hs2_index_, self.hs2_route_index_, self.content_index_):
            index.merge()
        for vocab in (*self.vocab_.values(), self.filing_vocab_):
            vocab.compact()

    def _grow(self) -> Buffers:
        if "_buffers" not in self.__dict__:
            self._buffers = Buffers()
        return self._buffers

    def _build(self) -> None:
        """The event indices from the state (``_append`` folds new events into them)."""
        self.hs2_index_ = LayeredIndex(self.hs2_, self.time_, {})
        self.hs2_route_index_ = LayeredIndex(self.hs2_route_, self.time_, {})
        self.content_index_ = LayeredIndex(self.filing_content_, self.filing_first_, {})

    def feature_names(self) -> list[str]:
        names = [f"mode__{m}" for m in TRANSPORT_MODES] + ["dispatch_differs_origin"]
        return names + (list(ENS_FEATURES) if self.with_ens_ else [])

    def nullable(self) -> set[str]:
        return set()

    def dropped(self) -> dict[str, str]:
        return (
            {}
            if self.with_ens_
            else {"route:ens": "no ENS data: itinerary and filing features need ENS"}
        )

    def transform(self, inputs: Inputs) -> np.ndarray:
        text = inputs.text
        mode = text["transport_mode"]
        feats: dict[str, np.ndarray] = {
            f"mode__{m}": (mode == m).astype(np.float64) for m in TRANSPORT_MODES
        }
        origin, dispatch = text["origin_country"], text["dispatch_country"]
        feats["dispatch_differs_origin"] = np.array(
            [
                d is not None and o is not None and d != o
                for d, o in zip(dispatch, origin, strict=True)
            ],
            dtype=np.float64,
        )
        if self.with_ens_:
            feats.update(self._ens_features(inputs))
        out = np.empty((inputs.n, len(feats)), dtype=np.float32)
        for j, name in enumerate(self.feature_names()):
            out[:, j] = feats[name]
        return out

    def _ens_features(self, inputs: Inputs) -> dict[str, np.ndarray]:
        n, t = inputs.n, inputs.time
        ens = inputs.ens
        if ens is None:
            return {name: np.zeros(n) for name in ENS_FEATURES}
        present = ens["present"]
        origin = inputs.text["origin_country"]
        parts = _itinerary_parts(np.where(present, ens["itinerary"], None))
        out: dict[str, np.ndarray] = {"ens_present": present.astype(np.float64)}
        out["n_transit"] = np.array([max(len(p) - 2, 0) for p in parts], dtype=np.float64)
        out["loading_differs_origin"] = np.array(
            [bool(p) and o is not None and p[0] != o for p, o in zip(parts, origin, strict=True)],
            dtype=np.float64,
        )
        out["origin_in_itinerary"] = np.array(
            [bool(p) and o in p for p, o in zip(parts, origin, strict=True)], dtype=np.float64
        )
        out["lead_time_h"] = np.where(present, (t - ens["first_filed"]) / 3600.0, 0.0)
        arrival = ens["expected_arrival"]
        gap = np.where(np.isnan(arrival), 0.0, (arrival - t) / 3600.0)
        out["arrival_gap_h"] = np.where(present, gap, 0.0)
        out["pre_loading"] = ens["pre_loading"].astype(np.float64)
        out["amendments"] = np.where(present, ens["versions"] - 1 - ens["pre_loading"], 0.0)
        content = self.vocab_["content"].codes(np.where(present, ens["content_key"], None))
        lo, hi = self.content_index_.bounds(content, np.zeros_like(t), t)
        own = self.filing_vocab_.codes(np.where(present, ens["filing_id"], None))
        own_known = (own >= 0) & (self.filing_first_[np.maximum(own, 0)] < t)
        out["duplicates"] = np.maximum((hi - lo) - own_known, 0).astype(np.float64)
        hs6 = key_values(inputs, "hs6")
        out["ens_hs6_mismatch"] = np.array(
            [
                bool(p) and isinstance(items, str) and h is not None and h not in items.split("|")
                for p, items, h in zip(present, ens["items_hs6"], hs6, strict=True)
            ],
            dtype=np.float64,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(ens["gross_mass_kg"] / inputs.number["net_mass_kg"])
        out["log_gross_net_ratio"] = np.where(present & np.isfinite(ratio), ratio, 0.0)
        out["containerised"] = ens["containerised"].astype(np.float64)
        hs2 = self.vocab_["hs2"].codes(np.where(present, key_values(inputs, "hs2"), None))
        pair = self.vocab_["hs2_route"].codes(key_values(inputs, "hs2_route"))
        n_chapter = self.hs2_index_.count(hs2, np.zeros_like(t), t)
        n_pair = self.hs2_route_index_.count(pair, np.zeros_like(t), t)
        out["route_rarity"] = np.where(present, -np.log((n_pair + 1.0) / (n_chapter + 1.0)), 0.0)
        return out

    def get_state(self) -> State:
        return {
            "with_ens": self.with_ens_,
            "vocab": {k: v.values for k, v in self.vocab_.items()},
            "hs2": self.hs2_,
            "hs2_route": self.hs2_route_,
            "time": self.time_,
            "filing_vocab": self.filing_vocab_.values,
            "filing_first": self.filing_first_,
            "filing_content": self.filing_content_,
        }

    def set_state(self, state: State) -> None:
        self.with_ens_ = bool(state["with_ens"])
        self.vocab_ = {k: Vocabulary(v) for k, v in state["vocab"].items()}
        self.hs2_ = np.asarray(state["hs2"], np.int64)
        self.hs2_route_ = np.asarray(state["hs2_route"], np.int64)
        self.time_ = np.asarray(state["time"], np.int64)
        self.filing_vocab_ = Vocabulary(state["filing_vocab"])
        self.filing_first_ = np.asarray(state["filing_first"], np.int64)
        self.filing_content_ = np.asarray(state["filing_content"], np.int64)
        self._build()
