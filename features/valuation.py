"""Valuation: declared value per kg and per supplementary unit against robust baselines,
and the duty-rate spread within the HS4 heading (a misclassification signal).

Baselines (median and MAD of log value per kg) are kept for HS6 x origin, HS6, HS4
and the importer's own history of the HS6, snapshotted per period (see baselines.py).
A z-score of ``-3`` reads "three robust standard deviations below what this product
from this origin usually declares". Unknown baselines give the prior z = 0 with a
zero count; rows without mass or units get NaN for the affected features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.baselines import Snapshots, compute_snapshots
from features.blocks import ControlEvents, EnsEvents, State
from features.inputs import Inputs
from features.keys import key_values
from features.vocab import Vocabulary

KG_BASELINES = ("hs6_origin", "hs6", "hs4", "importer_hs6")
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
MIN_SPREAD = 0.05  # floor of the robust spread (log scale), avoids infinite z-scores


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
        self._append(inputs, series, changed_from=None)

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        changed = int(inputs.time.min()) if inputs.n else None
        self._append(inputs, self._series(inputs), changed_from=changed)

    def _append(
        self, inputs: Inputs, series: dict[str, np.ndarray], changed_from: int | None
    ) -> None:
        r = self.rows_
        r["time"] = np.concatenate([r["time"], inputs.time])
        for k in KG_BASELINES:
            values = key_values(inputs, k)
            self.vocab_[k].add(values)
            r[f"code_{k}"] = np.concatenate([r[f"code_{k}"], self.vocab_[k].codes(values)])
        for k in ("uv_kg", "uv_unit", "duty"):
            r[k] = np.concatenate([r[k], series[k]])
        previous = self.snapshots_ if changed_from is not None else {}
        days = self.config.period_days
        plan = [(f"uv_kg_{k}", k, "uv_kg") for k in KG_BASELINES]
        plan += [("uv_unit_hs6", "hs6", "uv_unit"), ("duty_hs6", "hs6", "duty")]
        for name, key, value in plan:
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
        return (out | set(self.extra_numerics_)) & set(self.feature_names())

    def dropped(self) -> dict[str, str]:
        out = {}
        if not self.has_["uv_kg"]:
            out["valuation:per_kg"] = "no net mass in the history"
        if not self.has_["uv_unit"]:
            out["valuation:per_unit"] = "no supplementary units in the history"
        return out

    def _z(
        self, name: str, rows: np.ndarray, codes: np.ndarray, x: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        med, mad, cnt = self.snapshots_[name].lookup(rows, codes)
        known = cnt >= self.config.min_count
        spread = MAD_SCALE * np.where(known, mad, 1.0) + MIN_SPREAD
        z = np.where(known, (x - np.where(known, med, 0.0)) / spread, 0.0)
        return np.where(np.isnan(x), np.nan, z), np.log1p(cnt)

    def transform(self, inputs: Inputs) -> np.ndarray:
        num = inputs.number
        series = self._series(inputs)
        feats: dict[str, np.ndarray] = {
            "log_value": np.log1p(np.nan_to_num(num["customs_value_rc"])),
            "log_mass": np.log1p(num["net_mass_kg"]),
            "duty_rate": num["duty_rate"],
            "preference_claimed": (inputs.text["preference"] == "300").astype(np.float64),
            "log_value_per_kg": series["uv_kg"],
            "log_value_per_unit": series["uv_unit"],
        }
        days = self.config.period_days
        codes = {k: self.vocab_[k].codes(key_values(inputs, k)) for k in KG_BASELINES}
        for k in KG_BASELINES:
            snap = self.snapshots_[f"uv_kg_{k}"]
            feats[f"uv_kg_z__{k}"], feats[f"uv_kg_n__{k}"] = self._z(
                f"uv_kg_{k}", snap.index(inputs.time, days), codes[k], series["uv_kg"]
            )
        feats["uv_unit_z__hs6"], feats["uv_unit_n__hs6"] = self._z(
            "uv_unit_hs6",
            self.snapshots_["uv_unit_hs6"].index(inputs.time, days),
            codes["hs6"],
            series["uv_unit"],
        )
        duty_med, _, duty_n = self.snapshots_["duty_hs6"].lookup(
            self.snapshots_["duty_hs6"].index(inputs.time, days), codes["hs6"]
        )
        duty = np.nan_to_num(num["duty_rate"])
        feats["duty_vs_hs6"] = np.where(duty_n > 0, duty - np.nan_to_num(duty_med), 0.0)
        hs4 = self.vocab_["hs4"].codes(key_values(inputs, "hs4"))
        r = self.snapshots_["duty_hs6"].index(inputs.time, days)
        ok = (r >= 0) & (hs4 >= 0) & (hs4 < self.hs4_max_duty_.shape[1])
        top = np.where(ok, self.hs4_max_duty_[np.where(ok, r, 0), np.where(ok, hs4, 0)], np.nan)
        feats["duty_spread_hs4"] = np.where(np.isfinite(top), top - duty, 0.0)
        for name in self.extra_numerics_:
            feats[name] = num.get(name, np.full(inputs.n, np.nan))
        return np.column_stack([feats[nm] for nm in self.feature_names()]).astype(np.float32)

    # ----- state ---------------------------------------------------------------------
    def get_state(self) -> State:
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
