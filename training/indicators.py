"""The EU framework's control indicators (shared/DOMAIN.md) over a period of the service's
decisions and the control results posted for them.

The period is the declarations decided in it (their latest decision); each control
result posted for one of them counts, whenever it was posted (post-release audits come
months later: a report rerun later sees more). Indicators, one row each in a tidy table
(indicator, group, value, low, high, count, note):

* controls by type and by basis (model = electronic risk analysis, random, other);
* detection rate (share of controls finding an irregularity or a seizure), overall, by
  basis and by type, with exact binomial intervals;
* revenue recovered, overall and by basis;
* AEO versus non-AEO: share of declarations and of controls, detection rate of the
  controls, the irregularity rate the random controls find (unbiased: the random arm
  draws AEOs like everyone) and the model arm's recall (the share of the
  control-detectable irregular declarations it selected), estimated with inverse
  propensity weighting over every control of known propensity (training.estimates);
* hits per reason family (the top reason of the decision) and per risk type found.
A control finds only part of the irregularities: every rate is "what controls find".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from training.estimates import DETECTION_NOTE, Estimate, budget_estimates, selection_recall
from training.evaluate import binomial_interval
from training.service_log import latest_per_declaration

HIT_OUTCOMES = ("irregularity", "seizure")
BASES = {"model": "model (electronic risk analysis)", "random": "random"}
COLUMNS = ("indicator", "group", "value", "low", "high", "count", "note")


def _row(
    indicator: str,
    group: str,
    value: float,
    low: float = float("nan"),
    high: float = float("nan"),
    count: float = float("nan"),
    note: str = "",
) -> dict[str, Any]:
    return dict(zip(COLUMNS, (indicator, group, value, low, high, count, note), strict=True))


def _rate(indicator: str, group: str, found: int, out_of: int, note: str = "") -> dict[str, Any]:
    """A proportion with its exact binomial interval (NaN without any row)."""
    low, high = binomial_interval(found, out_of)
    value = found / out_of if out_of else float("nan")
    return _row(indicator, group, value, low, high, out_of, note)


def _estimate(indicator: str, group: str, e: Estimate, count: int) -> dict[str, Any]:
    return _row(indicator, group, e.value, e.low, e.high, count, e.quantity)


def _aeo(declarations: pd.Series) -> np.ndarray:
    """The importer's AEO flag from each decision's stored declaration JSON."""
    return np.array([bool(json.loads(d).get("importer_aeo") or False) for d in declarations])


def _top_family(reasons: Any) -> str:
    """The family of the decision's first reason ("none" without reasons)."""
    if reasons is None or (isinstance(reasons, float) and np.isnan(reasons)):
        return "none"
    items = json.loads(reasons) if isinstance(reasons, str) else reasons
    return str(items[0].get("family") or "none") if items else "none"


def _basis(selection_basis: pd.Series) -> pd.Series:
    return selection_basis.where(selection_basis.isin(list(BASES)), "other").map(
        lambda b: BASES.get(b, "other (rules, officers, unknown)")
    )


def period_rows(decisions: pd.DataFrame, controls: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """The period's declarations (latest decision each, with AEO flag and, per
    declaration, hit/revenue/controlled for IPS) and its controls (one row per result,
    joined to their decision)."""
    d = latest_per_declaration(decisions).copy()
    d["aeo"] = _aeo(d["declaration"])
    d["family"] = [_top_family(r) for r in d["reasons"]]
    c = controls[controls["declaration_id"].isin(d["declaration_id"])].copy()
    c["hit"] = c["outcome"].isin(HIT_OUTCOMES)
    c = c.merge(
        d[["declaration_id", "aeo", "family", "basis", "propensity"]].rename(
            columns={"basis": "decision_basis", "propensity": "decision_propensity"}
        ),
        on="declaration_id",
        how="left",
    )
    per = c.groupby("declaration_id").agg(
        hit=("hit", "max"), revenue=("revenue_recovered", "sum"), results=("hit", "size")
    )
    d = d.merge(per, left_on="declaration_id", right_index=True, how="left")
    d["results"] = d["results"].fillna(0).astype(int)
    d["hit"] = d["hit"].eq(True)
    d["revenue"] = d["revenue"].fillna(0.0).astype(float)
    # IPS needs the probability the declaration had of being controlled: known for this
    # service's own selections (model arm 1, random arm p); a declaration controlled
    # outside the policy (basis "none") has none and is left out of the estimate
    d["ips_controlled"] = (d["results"] > 0) & d["basis"].isin(["model", "random"])
    return d, c


def _counts(c: pd.DataFrame) -> list[dict[str, Any]]:
    rows = [_row("controls", "all", float(len(c)), count=len(c))]
    basis = _basis(c["selection_basis"])
    for name, n in basis.value_counts().sort_index().items():
        rows.append(_row("controls by basis", str(name), float(n), count=n))
    for name, n in c["control_type"].value_counts().sort_index().items():
        rows.append(_row("controls by type", str(name), float(n), count=n))
    table = pd.crosstab(c["control_type"], basis)
    for ctype in table.index:
        for b in table.columns:
            n = int(table.loc[ctype, b])
            rows.append(_row("controls by type and basis", f"{ctype} / {b}", float(n), count=n))
    return rows


def _detection(c: pd.DataFrame) -> list[dict[str, Any]]:
    note = f"share of controls that found an irregularity or a seizure ({DETECTION_NOTE})"
    rows = [_rate("detection rate", "all", int(c["hit"].sum()), len(c), note)]
    basis = _basis(c["selection_basis"])
    for name, part in c.groupby(basis, sort=True):
        rows.append(_rate("detection rate by basis", str(name), int(part["hit"].sum()), len(part)))
    for name, part in c.groupby("control_type", sort=True):
        rows.append(_rate("detection rate by type", str(name), int(part["hit"].sum()), len(part)))
    revenue = c["revenue_recovered"].fillna(0.0)
    rows.append(_row("revenue recovered", "all", float(revenue.sum()), count=len(c)))
    for name, part in revenue.groupby(basis, sort=True):
        rows.append(
            _row("revenue recovered by basis", str(name), float(part.sum()), count=len(part))
        )
    return rows


def _aeo_rows(d: pd.DataFrame, c: pd.DataFrame, level: float) -> list[dict[str, Any]]:
    rows = [
        _rate("share of declarations by AEOs", "all", int(d["aeo"].sum()), len(d)),
        _rate("share of controls on AEOs", "all", int(c["aeo"].sum()), len(c)),
    ]
    random = c["selection_basis"] == "random"
    for group, flag in (("AEO", True), ("non-AEO", False)):
        mine = c["aeo"] == flag
        rows.append(
            _rate("detection rate of controls", group, int(c["hit"][mine].sum()), int(mine.sum()))
        )
        rows.append(
            _rate(
                "irregularity rate found by random controls",
                group,
                int(c["hit"][mine & random].sum()),
                int((mine & random).sum()),
                f"unbiased: the random arm draws every declaration alike ({DETECTION_NOTE})",
            )
        )
        part = d[d["aeo"] == flag]
        quantity = (
            f"share of the control-detectable irregular {group} declarations that the model"
            f" arm selected (IPS over controls of known propensity; {DETECTION_NOTE})"
        )
        e = selection_recall(
            (part["basis"] == "model").to_numpy(),
            part["hit"].to_numpy(),
            part["ips_controlled"].to_numpy(),
            part["propensity"].to_numpy(dtype=np.float64),
            level,
            quantity,
        )
        rows.append(_estimate("model recall (IPS)", group, e, len(part)))
        found = int((part["hit"] & part["ips_controlled"]).sum())
        rows.append(_row("irregular declarations found", group, float(found), count=found))
    return rows


def _hits(c: pd.DataFrame) -> list[dict[str, Any]]:
    hits = c[c["hit"]]
    rows = []
    for name, n in hits["family"].fillna("none").value_counts().sort_index().items():
        rows.append(_row("hits by reason family", str(name), float(n), count=n))
    for name, n in hits["risk_type"].fillna("unknown").value_counts().sort_index().items():
        rows.append(_row("hits by risk type found", str(name), float(n), count=n))
    return rows


def _model(d: pd.DataFrame, level: float) -> list[dict[str, Any]]:
    """The served scores' precision and recall at 5 % on all the period's traffic (IPS)."""
    est = budget_estimates(
        d["score"].to_numpy(dtype=np.float64),
        d["hit"].to_numpy(),
        d["ips_controlled"].to_numpy(),
        d["propensity"].to_numpy(dtype=np.float64),
        d["revenue"].to_numpy(dtype=np.float64),
        (0.05,),
        level,
    )
    return [_estimate(f"served score {k} (IPS)", "all", e, len(d)) for k, e in est.items()]


def indicators(
    decisions: pd.DataFrame, controls: pd.DataFrame, level: float = 0.95
) -> pd.DataFrame:
    """Every indicator of the period as one tidy table (see the module docstring)."""
    d, c = period_rows(decisions, controls)
    rows = [_row("declarations decided", "all", float(len(d)), count=len(d))]
    selected = d["selected"].astype(bool)
    rows.append(_row("declarations selected", "all", float(selected.sum()), count=len(d)))
    pending = int((selected & (d["results"] == 0)).sum())
    rows.append(
        _row(
            "selected without a result yet",
            "all",
            float(pending),
            count=len(d),
            note="counted as no hit by the IPS estimates until their result is posted",
        )
    )
    rows += _counts(c) + _detection(c) + _aeo_rows(d, c, level) + _hits(c)
    if len(d) and d["ips_controlled"].any():
        rows += _model(d, level)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def chart(table: pd.DataFrame, path: Path) -> Path:
    """Controls by type and basis, detection rates with intervals, AEO versus non-AEO."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    by = table[table["indicator"] == "controls by type and basis"]
    if len(by):
        split = by["group"].str.split(" / ", n=1, expand=True)
        counts = pd.pivot_table(
            by.assign(type=split[0], basis=split[1]),
            index="type",
            columns="basis",
            values="value",
            aggfunc="sum",
        )
        counts.plot.bar(stacked=True, ax=axes[0], rot=0)
    axes[0].set(title="controls by type and basis", ylabel="controls", xlabel="")
    _bars(axes[1], table[table["indicator"].str.startswith("detection rate by")], "detection rate")
    short = {
        "detection rate of controls": "detection",
        "irregularity rate found by random controls": "random-control rate",
        "model recall (IPS)": "model recall",
    }
    aeo = table[table["indicator"].isin(list(short))]
    labels = aeo["indicator"].map(short) + " " + aeo["group"]
    _bars(axes[2], aeo.assign(group=labels), "AEO vs non-AEO")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _bars(ax: plt.Axes, rows: pd.DataFrame, title: str) -> None:
    """Values with their interval as error bars (95 %), one bar per row."""
    values = rows["value"].to_numpy(dtype=np.float64)
    low = np.nan_to_num(values - rows["low"].to_numpy(dtype=np.float64))
    high = np.nan_to_num(rows["high"].to_numpy(dtype=np.float64) - values)
    x = np.arange(len(rows))
    ax.bar(x, np.nan_to_num(values), yerr=[low, high], capsize=3, color="tab:blue")
    ax.set_xticks(x, rows["group"].tolist(), rotation=30, ha="right", fontsize=8)
    ax.set(title=f"{title} (95% intervals)", ylabel="what controls find", ylim=(0, 1))


def write_report(table: pd.DataFrame, out: Path) -> tuple[Path, Path]:
    """``indicators.csv`` and ``indicators.png`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "indicators.csv"
    table.to_csv(csv, index=False)
    return csv, chart(table, out / "indicators.png")
