"""Valuation: declared value per kg and per supplementary unit against robust baselines,
and the duty-rate spread within the HS4 heading (a misclassification signal).

Baselines (median and MAD of log value per kg) are kept for HS6 x origin, HS6, HS4
and the importer's own history of the HS6, snapshotted per period (see baselines.py).
A z-score of ``-3`` reads "three robust standard deviations below what this product
from this origin usually declares". Unknown baselines give the prior z = 0 with a
zero count; rows without mass or units get NaN for the affected features.

``update`` only appends rows: the snapshots they change (those starting after the
earliest of them; usually just the last, "everything known", which only rows of the
next period read) are recomputed once a transformed row needs one, or on ``refresh``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.baselines import Snapshots, compute_snapshots
from features.blocks import ControlEvents, EnsEvents, State
from features.growable import Buffers
from features.inputs import Inputs
from features.keys import key_codes, key_values
from features.timebase import period_of
from features.vocab import Vocabulary

KG_BASELINES = ("hs6_origin", "hs6", "hs4", "importer_hs6")
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
MIN_SPREAD = 0.05  # floor of the robust spread (log scale), avoids infinite z-scores
# Baselines in lookup order: (snapshot name, entity key, compared value).
STACK = (
    *((f"uv_kg_{k}", k, "uv_kg") for k in KG_BASELINES),
    ("uv_unit_hs6", "hs6", "uv_unit"),
    ("duty_hs6", "hs6", "duty"),
)


@dataclass(frozen=True)
class ValuationConfig:
    """Snapshot period and the minimum rows for a baseline to count."""

    period_days: int = 30
    min_count: int = 3


def _log_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(num / den)
    return np.where(np.isfinite(out), out, np.nan)


class ValuationBlock:
    """Unit values and duty rates against snapshot baselines."""

    name = "valuation"

    def __init__(self, config: ValuationConfig | None = None) -> None:
        self.config = config or ValuationConfig()

    # ----- fitting -------------------------------------------------------------------
    def _series(self, inputs: Inputs) -> dict[str, np.ndarray]:
        num = inputs.number
        return {
            "uv_kg": _log_ratio(num["customs_value_rc"], num["net_mass_kg"]),
            "uv_unit": _log_ratio(num["customs_value_rc"], num["supplementary_units"]),
            "duty": num["duty_rate"],
        }

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        self.vocab_ = {k: Vocabulary() for k in KG_BASELINES}
        self.rows_: dict[str, np.ndarray] = {"time": np.zeros(0, np.int64)}
        self.rows_.update({f"code_{k}": np.zeros(0, np.int64) for k in KG_BASELINES})
        self.rows_.update({k: np.zeros(0) for k in ("uv_kg", "uv_unit", "duty")})
        series = self._series(inputs)
        self.has_ = {k: bool(np.isfinite(v).any()) for k, v in series.items()}
        self.extra_numerics_ = list(inputs.extra_numerics)
        self.snapshots_: dict[str, Snapshots] = {}
        self.names_ = self._names()
        self._append(inputs, series)
        self._compute(None)

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        """Append the rows; the snapshots they change (those after the earliest) are
        recomputed when a row first needs one (``transform``) or on ``refresh``."""
        if inputs.n == 0:
            return
        self._append(inputs, self._series(inputs))
        earliest = int(inputs.time.min())
        stale = self.stale_since_
        self.stale_since_ = earliest if stale is None else min(stale, earliest)

    def refresh(self) -> None:
        """Recompute the snapshots that rows appended since the last computation change
        (and put the vocabularies' recent values into their lookup tables)."""
        stale = self.stale_since_
        if stale is not None:
            self._compute(stale)
        for vocab in self.vocab_.values():
            vocab.compact()

    def _needs_refresh(self, times: np.ndarray) -> bool:
        """Whether a row at one of ``times`` reads a snapshot that is out of date: snapshot
        ``p`` holds the rows before its start, so it is current while that start is at or
        before the earliest row appended since (see ``compute_snapshots``)."""
        stale = self.stale_since_
        if stale is None or len(times) == 0:
            return False
        days = self.config.period_days
        return bool((period_of(times, days) > period_of(stale, days)).any())

    def _append(self, inputs: Inputs, series: dict[str, np.ndarray]) -> None:
        r = self.rows_
        if "_buffers" not in self.__dict__:
            self._buffers = Buffers()
        grow = self._buffers
        r["time"] = grow.extend("time", r["time"], inputs.time)
        for k in KG_BASELINES:
            codes = key_codes(inputs, k, self.vocab_[k], add=True)
            r[f"code_{k}"] = grow.extend(k, r[f"code_{k}"], codes)
        for k in ("uv_kg", "uv_unit", "duty"):
            r[k] = grow.extend(k, r[k], series[k])

    def _compute(self, changed_from: int | None) -> None:
        """Snapshots on the current grid; those starting at or before ``changed_from``
        (None: none) are taken from the previous ones."""
        r = self.rows_
        previous = self.snapshots_ if changed_from is not None else {}
        days = self.config.period_days
        for name, key, value in STACK:
            self.snapshots_[name] = compute_snapshots(
                r[f"code_{key}"],
                r["time"],
                r[value],
                len(self.vocab_[key]),
                days,
                previous.get(name),
                changed_from,
            )
        self._hs4_max_duty()
        self._stack()
        self.stale_since_: int | None = None

    def _hs4_max_duty(self) -> None:
        """Highest median duty among the HS6 codes of each HS4, per snapshot."""
        hs6 = self.vocab_["hs6"].values
        hs4_of = self.vocab_["hs4"].codes(np.array([h[:4] for h in hs6], dtype=object))
        duty = self.snapshots_["duty_hs6"].median
        out = np.full((duty.shape[0], len(self.vocab_["hs4"])), np.nan, dtype=np.float32)
        for i in range(duty.shape[0]):
            ok = np.isfinite(duty[i, : len(hs4_of)]) & (hs4_of >= 0)
            row = np.full(out.shape[1], -np.inf, dtype=np.float32)
            np.maximum.at(row, hs4_of[ok], duty[i, : len(hs4_of)][ok])
            out[i] = np.where(np.isfinite(row), row, np.nan)
        self.hs4_max_duty_ = out

    # ----- transform -----------------------------------------------------------------
    def feature_names(self) -> list[str]:
        return list(self.names_)

    def _names(self) -> list[str]:
        names = ["log_value", "log_mass", "duty_rate", "preference_claimed"]
        if self.has_["uv_kg"]:
            names.append("log_value_per_kg")
            for k in KG_BASELINES:
                names += [f"uv_kg_z__{k}", f"uv_kg_n__{k}"]
        if self.has_["uv_unit"]:
            names += ["log_value_per_unit", "uv_unit_z__hs6", "uv_unit_n__hs6"]
        names += ["duty_vs_hs6", "duty_spread_hs4"]
        names += list(self.extra_numerics_)
        return names

    def nullable(self) -> set[str]:
        out = {"log_mass", "duty_rate", "log_value_per_kg", "log_value_per_unit"}
        out |= {f"uv_kg_z__{k}" for k in KG_BASELINES} | {"uv_unit_z__hs6"}
        return (out | set(self.extra_numerics_)) & set(self.names_)

    def dropped(self) -> dict[str, str]:
        out = {}
        if not self.has_["uv_kg"]:
            out["valuation:per_kg"] = "no net mass in the history"
        if not self.has_["uv_unit"]:
            out["valuation:per_unit"] = "no supplementary units in the history"
        return out

    def _stack(self) -> None:
        """All baselines side by side (codes offset per baseline): one lookup per row."""
        snaps = [self.snapshots_[name] for name, _, _ in STACK]
        self.stack_median_ = np.concatenate([s.median for s in snaps], axis=1)
        self.stack_spread_ = MAD_SCALE * np.concatenate([s.mad for s in snaps], axis=1) + MIN_SPREAD
        self.stack_count_ = np.concatenate([s.count for s in snaps], axis=1)
        widths = [s.median.shape[1] for s in snaps]
        self.stack_offsets_ = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        self.stack_widths_ = np.array(widths, dtype=np.int64)
        self.first_period_ = snaps[0].first_period

    def transform(self, inputs: Inputs) -> np.ndarray:
        if self._needs_refresh(inputs.time):
            self.refresh()
        num = inputs.number
        n = inputs.n
        value, mass, units = num["customs_value_rc"], num["net_mass_kg"], num["supplementary_units"]
        duty = num["duty_rate"]
        uv_kg, uv_unit = _log_ratio(value, mass), _log_ratio(value, units)
        # One lookup for every baseline: (row's snapshot, baseline's code).
        snap = period_of(inputs.time, self.config.period_days) - self.first_period_
        snap = np.minimum(snap, self.stack_median_.shape[0] - 1)
        codes = {k: key_codes(inputs, k, self.vocab_[k]) for k in KG_BASELINES}
        cm = np.column_stack([codes[key] for _, key, _ in STACK])
        valid = (snap >= 0)[:, None] & (cm >= 0) & (cm < self.stack_widths_)
        idx = np.where(valid, cm + self.stack_offsets_, 0)
        r = np.where(snap >= 0, snap, 0)[:, None]
        med = self.stack_median_[r, idx]
        count = np.where(valid, self.stack_count_[r, idx], 0.0)
        x = np.column_stack([uv_kg, uv_kg, uv_kg, uv_kg, uv_unit, duty])
        known = count >= self.config.min_count
        z = np.where(known, (x - med) / np.where(known, self.stack_spread_[r, idx], 1.0), 0.0)
        z = np.where(np.isnan(x), np.nan, z)
        hs4 = self.vocab_["hs4"].codes(key_values(inputs, "hs4"))
        ok = (snap >= 0) & (hs4 >= 0) & (hs4 < self.hs4_max_duty_.shape[1])
        top = self.hs4_max_duty_[np.where(ok, snap, 0), np.where(ok, hs4, 0)]
        duty0 = np.where(np.isnan(duty), 0.0, duty)
        feats: dict[str, np.ndarray] = {
            "log_value": np.log1p(np.where(np.isnan(value), 0.0, value)),
            "log_mass": np.log1p(mass),
            "duty_rate": duty,
            "preference_claimed": inputs.text["preference"] == "300",
            "log_value_per_kg": uv_kg,
            "log_value_per_unit": uv_unit,
            "uv_unit_z__hs6": z[:, 4],
            "uv_unit_n__hs6": np.log1p(count[:, 4]),
            "duty_vs_hs6": np.where(count[:, 5] > 0, duty0 - med[:, 5], 0.0),
            "duty_spread_hs4": np.where(ok & np.isfinite(top), top - duty0, 0.0),
        }
        for j, k in enumerate(KG_BASELINES):
            feats[f"uv_kg_z__{k}"] = z[:, j]
            feats[f"uv_kg_n__{k}"] = np.log1p(count[:, j])
        for name in self.extra_numerics_:
            feats[name] = num.get(name, np.full(n, np.nan))
        out = np.empty((n, len(self.names_)), dtype=np.float32)
        for j, name in enumerate(self.names_):
            out[:, j] = feats[name]
        return out

    # ----- state ---------------------------------------------------------------------
    def get_state(self) -> State:
        self.refresh()
        state: State = {
            "config": {"period_days": self.config.period_days, "min_count": self.config.min_count},
            "has": dict(self.has_),
            "extra_numerics": list(self.extra_numerics_),
            "vocab": {k: v.values for k, v in self.vocab_.items()},
            "rows": dict(self.rows_),
            "hs4_max_duty": self.hs4_max_duty_,
            "snapshots": {
                name: {
                    "first_period": s.first_period,
                    "median": s.median,
                    "mad": s.mad,
                    "count": s.count,
                }
                for name, s in self.snapshots_.items()
            },
        }
        return state

    def set_state(self, state: State) -> None:
        self.config = ValuationConfig(**state["config"])
        self.has_ = dict(state["has"])
        self.extra_numerics_ = list(state["extra_numerics"])
        self.vocab_ = {k: Vocabulary(v) for k, v in state["vocab"].items()}
        self.rows_ = {k: np.asarray(v) for k, v in state["rows"].items()}
        self.hs4_max_duty_ = np.asarray(state["hs4_max_duty"])
        self.snapshots_ = {
            name: Snapshots(
                int(s["first_period"]),
                np.asarray(s["median"]),
                np.asarray(s["mad"]),
                np.asarray(s["count"]),
            )
            for name, s in state["snapshots"].items()
        }
        self._stack()
        self.stale_since_ = None
        self.names_ = self._names()
