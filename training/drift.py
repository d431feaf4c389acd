"""Population stability index (PSI) per feature: training rows against served rows.

PSI = sum over bins of (served share - training share) * ln(served share / training
share), with 10 bins at the deciles of the training distribution (ties merge bins, so a
count that is mostly 0 gets fewer) and missing values in a bin of their own. Shares
are floored at 1e-4 so an empty bin counts as rare rather than infinite. Rule of thumb:
under 0.1 stable, 0.1-0.25 moved, over 0.25 a different distribution. The binning is
models.drift's, the one the bundle's drift reference and the service's gauges use.

``drift_summary`` and ``drift_table`` compare recent traffic (feature rows, scores,
party and code values: e.g. from the decision log) with a bundle's ``DriftReference``:
no MLflow, no training run needed (the backtest may call them to raise exploration).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from models.drift import (
    BINS,
    FLOOR,
    PARTY_COLUMNS,
    DriftReference,
    aligned,
    bin_edges,
    bin_shares,
    psi_from_shares,
)

PSI_BINS = BINS
UNSTABLE = 0.25
MOVED = 0.1
__all__ = [
    "FLOOR",
    "MOVED",
    "PSI_BINS",
    "UNSTABLE",
    "aligned",
    "drift_plot",
    "drift_summary",
    "drift_table",
    "psi",
    "psi_summary",
    "psi_table",
]


def psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of one feature (``current`` against ``reference``, quantile bins of the latter)."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    edges = bin_edges(reference, bins)
    return psi_from_shares(bin_shares(reference, edges), bin_shares(current, edges))


def psi_table(
    names: list[str],
    reference: np.ndarray,
    current: np.ndarray,
    group_of: dict[str, str] | None = None,
    used: np.ndarray | None = None,
) -> pd.DataFrame:
    """PSI of every column, highest first, with its feature group and whether the model
    reads it."""
    values = [psi(reference[:, j], current[:, j]) for j in range(len(names))]
    table = pd.DataFrame(
        {
            "feature": names,
            "group": [(group_of or {}).get(n, "") for n in names],
            "psi": values,
            "used_by_model": np.ones(len(names), bool) if used is None else np.asarray(used),
        }
    )
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def psi_summary(table: pd.DataFrame, prefix: str = "psi_") -> dict[str, float]:
    """Max, mean and count over 0.25, over every feature and over those the model reads."""
    out: dict[str, float] = {}
    for label, part in (("", table), ("used_", table[table["used_by_model"]])):
        values = part["psi"].to_numpy(dtype=np.float64)
        out[f"{prefix}{label}max"] = float(values.max()) if len(values) else 0.0
        out[f"{prefix}{label}mean"] = float(values.mean()) if len(values) else 0.0
        out[f"{prefix}{label}count_over_0_25"] = float((values > UNSTABLE).sum())
    return out


def drift_table(reference: DriftReference, x: np.ndarray) -> pd.DataFrame:
    """PSI of every feature (``x`` in the reference's column order), highest first, with
    the verdict of the rule of thumb."""
    values = reference.feature_psi(x)
    table = pd.DataFrame(
        {"feature": reference.names, "psi": values, "used_by_model": reference.used_mask}
    )
    table["verdict"] = np.where(
        values > UNSTABLE, "different", np.where(values > MOVED, "moved", "stable")
    )
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def drift_summary(
    reference: DriftReference,
    x: np.ndarray,
    scores: np.ndarray,
    values: Mapping[str, Iterable[object]] | None = None,
    top: int = 10,
) -> dict[str, object]:
    """Drift of recent traffic against the reference, as plain numbers: ``rows``,
    ``score_psi``, ``psi_max``/``psi_mean``/``psi_count_over_0_25`` over the features the
    model reads (``psi_max_all_features`` over all), ``top_features`` (name -> PSI, the
    ``top`` highest the model reads), ``unseen_<column>`` per party
    and code column, ``unseen_party_rate`` (mean over the party columns) and
    ``unseen_code_rate`` (HS6 and origin)."""
    every = drift_table(reference, x)
    table = every[every["used_by_model"]]  # what the model does not read cannot hurt it
    psi_values = table["psi"].to_numpy(dtype=np.float64)
    out: dict[str, object] = {
        "psi_max_all_features": float(every["psi"].max()) if len(every) else 0.0,
        "rows": len(x),
        "reference_rows": reference.rows,
        "score_psi": reference.score_psi(np.asarray(scores, dtype=np.float64)),
        "psi_max": float(psi_values.max()) if len(psi_values) else 0.0,
        "psi_mean": float(psi_values.mean()) if len(psi_values) else 0.0,
        "psi_count_over_0_25": int((psi_values > UNSTABLE).sum()),
        "top_features": dict(zip(table["feature"][:top], psi_values[:top].tolist(), strict=True)),
    }
    unseen = reference.unseen_rates(values or {})
    out.update({f"unseen_{k}": v for k, v in unseen.items()})
    parties = [unseen[c] for c in PARTY_COLUMNS if c in unseen and np.isfinite(unseen[c])]
    codes = [unseen[c] for c in ("hs6", "origin_country") if c in unseen and np.isfinite(unseen[c])]
    out["unseen_party_rate"] = float(np.mean(parties)) if parties else float("nan")
    out["unseen_code_rate"] = float(np.mean(codes)) if codes else float("nan")
    return out


def drift_plot(
    reference: DriftReference, table: pd.DataFrame, scores: np.ndarray, path: Path, top: int = 15
) -> Path:
    """PSI of the ``top`` features (bars, thresholds 0.1 and 0.25) and the score's bin
    shares, reference against recent."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    head = table.head(top).iloc[::-1]
    axes[0].barh(head["feature"], head["psi"], color="tab:blue")
    for level, colour in ((MOVED, "orange"), (UNSTABLE, "red")):
        axes[0].axvline(level, color=colour, ls="--", lw=1)
    axes[0].set(title=f"PSI, top {len(head)} features", xlabel="PSI")
    axes[0].tick_params(axis="y", labelsize=7)
    recent = bin_shares(np.asarray(scores, dtype=np.float64), reference.score_edges)
    x = np.arange(len(recent))
    axes[1].bar(x - 0.2, reference.score_shares, width=0.4, label="reference")
    axes[1].bar(x + 0.2, recent, width=0.4, label="recent")
    labels = [f"<={e:.3g}" for e in reference.score_edges] + [">", "missing"]
    axes[1].set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    psi_score = reference.score_psi(np.asarray(scores, dtype=np.float64))
    axes[1].set(title=f"score bins (PSI {psi_score:.3f})", ylabel="share")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
