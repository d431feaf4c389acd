"""Outcomes of controls chosen after the fact: a backtest selects declarations of a
generated world and learns only what the world's control model would have found there.

The draws are ``synth.controls.control_outcomes``, the same implementation that wrote
the world's past controls (type by mode, detection by type and risk, clerical noise,
revenue recovered, delay until the result is recorded); the ground truth is read here
and nowhere else on the backtest's side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from canonical.schema import CONTROL_TYPES, RISK_TYPES, TRANSPORT_MODES
from synth.controls import control_outcomes, detection_probability


@dataclass(frozen=True)
class ControlModel:
    """The world's control model over its declarations (arrays aligned with the
    declarations frame it was built from)."""

    declarations: pd.DataFrame
    mode: np.ndarray  # index into TRANSPORT_MODES
    risk: np.ndarray  # index into RISK_TYPES, -1 for a regular declaration
    scheme: np.ndarray  # planted scheme name, "" for a regular declaration
    evaded: np.ndarray  # revenue evaded (0 for a regular declaration)

    @classmethod
    def of(cls, declarations: pd.DataFrame, truth: pd.DataFrame | pa.Table) -> ControlModel:
        """Align the ground truth with ``declarations`` (rows absent from it are regular)."""
        if isinstance(truth, pa.Table):
            truth = truth.to_pandas()
        ids = pd.Index(declarations["declaration_id"].astype(object))
        at = ids.get_indexer(truth["declaration_id"].astype(object))
        found = at >= 0
        n = len(declarations)
        risk = np.full(n, -1, dtype=np.int64)
        risk[at[found]] = (
            truth["risk_type"].map({r: i for i, r in enumerate(RISK_TYPES)}).to_numpy()[found]
        )
        scheme = np.full(n, "", dtype=object)
        scheme[at[found]] = truth["scheme"].astype(object).to_numpy()[found]
        evaded = np.zeros(n)
        evaded[at[found]] = truth["evaded_revenue"].to_numpy(dtype=np.float64)[found]
        modes = {m: i for i, m in enumerate(TRANSPORT_MODES)}
        mode = declarations["transport_mode"].astype(object).map(modes).fillna(-1)
        return cls(declarations, mode.to_numpy(dtype=np.int64), risk, scheme, evaded)

    @property
    def irregular(self) -> np.ndarray:
        """Whether each declaration is irregular (the truth, not what a control finds)."""
        return self.risk >= 0

    def detection_probability(self, rows: np.ndarray) -> np.ndarray:
        """Probability that a control of each of ``rows`` records an irregularity."""
        return detection_probability(self.mode[rows], self.risk[rows])

    def reveal(
        self,
        rows: np.ndarray,
        rng: np.random.Generator,
        basis: np.ndarray,
        propensity: np.ndarray,
        prefix: str = "BT",
    ) -> pd.DataFrame:
        """Canonical control results of the declarations at ``rows`` (positions), each
        with its selection ``basis`` and ``propensity``, drawn from the world's control
        model; ``controlled_at`` is when the result is recorded (post-release audits
        come months later)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = control_outcomes(rng, self.mode[rows], self.risk[rows], self.evaded[rows])
        d = self.declarations.iloc[rows]
        delay = pd.to_timedelta(np.round(out.delay_h * 3600), unit="s")
        found = [RISK_TYPES[i] if i >= 0 else None for i in out.found_risk]
        return pd.DataFrame(
            {
                "control_id": [f"{prefix}{r:09d}" for r in rows],
                "declaration_id": d["declaration_id"].to_numpy(dtype=object),
                "ens_id": d["ens_id"].to_numpy(dtype=object) if "ens_id" in d else None,
                "controlled_at": d["lodged_at"].reset_index(drop=True) + pd.Series(delay),
                "control_type": [CONTROL_TYPES[i] for i in out.control_type],
                "selection_basis": np.asarray(basis, dtype=object),
                "propensity": np.asarray(propensity, dtype=np.float64),
                "outcome": out.outcome.astype(object),
                "risk_type": pd.Series(found, dtype=object),
                "revenue_recovered": out.revenue,
            }
        )


def reveal(world: object, rows: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Control results of ``rows`` of a ``synth.World`` (controls on a random basis,
    propensity 1): the one-call form of ``ControlModel.reveal``."""
    model = ControlModel.of(world.frame("declarations"), world.truth)  # type: ignore[attr-defined]
    n = len(rows)
    return model.reveal(rows, rng, np.full(n, "random", dtype=object), np.ones(n))


__all__ = ["ControlModel", "reveal"]
