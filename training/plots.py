"""Evaluation plots logged with each run: precision@n curve, PR curve, calibration,
feature importance, and a SHAP summary from LightGBM's TreeSHAP contributions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve

from models.metrics import precision_at


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def precision_curve(scores: dict[str, np.ndarray], y: np.ndarray, path: Path) -> Path:
    budgets = np.linspace(0.5, 20, 40)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in scores.items():
        ax.plot(budgets, [precision_at(s, y, b) for b in budgets], label=name)
    ax.axhline(y.mean(), color="grey", ls=":", label="base rate")
    ax.set(xlabel="controls budget (% of declarations)", ylabel="precision", title="precision@n%")
    ax.legend()
    return _save(fig, path)


def pr_curve(scores: dict[str, np.ndarray], y: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in scores.items():
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="precision-recall")
    ax.legend()
    return _save(fig, path)


def calibration_plot(prob: np.ndarray, y: np.ndarray, path: Path, bins: int = 10) -> Path:
    order = np.argsort(prob)
    chunks = np.array_split(order, bins)
    predicted = [prob[c].mean() for c in chunks if len(c)]
    observed = [y[c].mean() for c in chunks if len(c)]
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(max(predicted, default=0), max(observed, default=0)) * 1.1 or 1
    ax.plot([0, top], [0, top], color="grey", ls=":")
    ax.plot(predicted, observed, marker="o")
    ax.set(xlabel="predicted probability", ylabel="observed rate", title="calibration (test)")
    return _save(fig, path)


def importance_plot(names: list[str], gain: np.ndarray, path: Path, top: int = 25) -> Path:
    order = np.argsort(gain)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.barh([names[i] for i in order], gain[order])
    ax.set(xlabel="total gain", title="LightGBM feature importance")
    return _save(fig, path)


def shap_summary(
    names: list[str], contrib: np.ndarray, x: np.ndarray, path: Path, top: int = 20
) -> Path:
    """Beeswarm-style summary: contribution per row, coloured by the feature's rank."""
    mean_abs = np.abs(contrib).mean(axis=0)
    order = np.argsort(mean_abs)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 7))
    rng = np.random.default_rng(0)
    for k, j in enumerate(order):
        values = x[:, j]
        finite = np.isfinite(values)
        rank = np.zeros(len(values))
        if finite.any():
            rank[finite] = values[finite].argsort().argsort() / max(finite.sum() - 1, 1)
        ax.scatter(
            contrib[:, j],
            k + rng.uniform(-0.3, 0.3, len(values)),
            c=rank,
            cmap="coolwarm",
            s=4,
            alpha=0.6,
        )
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(xlabel="TreeSHAP contribution to the log-odds", title="SHAP summary (test sample)")
    return _save(fig, path)
