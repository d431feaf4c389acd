"""Retraining from the service: a challenger on a rolling window, a promotion gate on
unbiased estimates.

``targeting retrain`` folds what the service logged (the declarations it scored, the
control results posted, ``serving.log_frames``) into the history (a canonical
directory), then:

1. holds out the latest ``eval_weeks`` (from ``cut`` to the end): neither model has
   seen their results;
2. trains a challenger (``training.train``) on the declarations of the rolling window
   ``[cut - window_days, cut)`` and the results known before ``cut``; it is registered
   (alias challenger);
3. scores the held-out weeks with both models **as served**: each bundle's own feature
   state, with the declarations lodged after its state's end folded in lodging order
   (and the results of those declarations known before ``cut``); the held-out weeks'
   results stay hidden;
4. estimates both models' precision, recall and revenue at every budget on all traffic
   from the held-out weeks' controls and their propensities
   (``training.estimates.budget_estimates``), and the paired difference on the gate's
   metric (``difference``);
5. promotes the challenger only when the lower bound of that difference exceeds
   ``margin``; otherwise it says why and leaves the champion.

Everything is one MLflow run (experiment ``targeting-retrain``) with the data window,
row counts and both models' estimates side by side.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.live import LiveState
from features.timebase import DAY, to_seconds
from models.bundle import read_bundle
from serving.live import bundle_source, state_end_of
from serving.scoring import Scorer
from training.dataset import HIT_OUTCOMES
from training.estimates import Estimate, budget_estimates, difference
from training.tracking import CHAMPION, experiment_id, mlflow_at, promote, resolve_model
from training.train import TrainConfig, train

EXPERIMENT = "targeting-retrain"
KEYS = {
    "declarations": ["declaration_id"],
    "controls": ["control_id"],
    "ens_filings": ["filing_id", "version"],
    "ens_items": ["filing_id", "version", "item_no"],
}


@dataclass(frozen=True)
class RetrainConfig:
    """The rolling window, the held-out weeks and the promotion gate."""

    window_days: int = 180
    eval_weeks: int = 4
    metric: str = "precision@5"  # the gate's metric
    margin: float = 0.0  # promote when the difference's lower bound exceeds it
    level: float = 0.95
    seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True)
class Evaluation:
    """Both models on the same held-out weeks."""

    rows: int
    controlled: int
    random_controls: int
    challenger: dict[str, Estimate]
    champion: dict[str, Estimate] | None
    difference: Estimate | None


@dataclass(frozen=True)
class RetrainResult:
    """What a retrain did and why."""

    run_id: str
    challenger: str
    champion: str  # the champion before the retrain ('' if none)
    promoted: bool
    reason: str
    window: dict[str, str]
    counts: dict[str, int]
    evaluation: Evaluation


def merge_frames(
    history: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The history with the new rows folded in (a row already there by key is replaced
    by the new copy)."""
    out = dict(history)
    for name, frame in new.items():
        if frame is None or len(frame) == 0:
            continue
        old = out.get(name)
        both = frame if old is None else pd.concat([old, frame[old.columns]], ignore_index=True)
        out[name] = both.drop_duplicates(KEYS[name], keep="last").reset_index(drop=True)
    return out


def window_frames(frames: dict[str, pd.DataFrame], begin: int, cut: int) -> dict[str, pd.DataFrame]:
    """Declarations lodged in [begin, cut), the results of them recorded before ``cut``,
    the ENS filings filed before ``cut`` and their items."""
    d = frames["declarations"]
    lodged = to_seconds(d["lodged_at"])
    d = d[(lodged >= begin) & (lodged < cut)]
    c = frames["controls"]
    c = c[c["declaration_id"].isin(d["declaration_id"]) & (to_seconds(c["controlled_at"]) < cut)]
    out = {"declarations": d.reset_index(drop=True), "controls": c.reset_index(drop=True)}
    f = frames.get("ens_filings")
    if f is not None:
        f = f[to_seconds(f["filed_at"]) < cut]
        out["ens_filings"] = f.reset_index(drop=True)
        items = frames.get("ens_items")
        if items is not None:
            out["ens_items"] = items[items["filing_id"].isin(f["filing_id"])].reset_index(drop=True)
    return out


def score_as_served(
    bundle: Path, frames: dict[str, pd.DataFrame], cut: int, window: pd.DataFrame
) -> np.ndarray:
    """Scores of the ``window`` declarations by ``bundle`` as the service gives them:
    the bundle's feature state, the declarations lodged between its end and ``cut``
    folded with the results of them recorded before ``cut``, then the window folded in
    lodging order (each row sees only what came strictly before it; no window result)."""
    info = read_bundle(bundle)
    scorer = Scorer(info, device="cpu")
    end = state_end_of(info.manifest)
    live = LiveState.start(scorer.pipeline, bundle_source(info.manifest), end)
    d = frames["declarations"]
    lodged = to_seconds(d["lodged_at"])
    gap = d[(lodged > end) & (lodged < cut)].sort_values("lodged_at", kind="stable")
    c = frames["controls"]
    known = c[c["declaration_id"].isin(gap["declaration_id"])]
    known = known[to_seconds(known["controlled_at"]) < cut]
    f, i = frames.get("ens_filings"), frames.get("ens_items")
    if len(gap):
        live.fold(gap, known, f, i)
    ordered = window.sort_values("lodged_at", kind="stable")
    ordered = ordered[to_seconds(ordered["lodged_at"]) > end]  # the others are in the state
    if len(ordered):
        live.fold(ordered, None, f, i)
    batch = scorer.score_frame(window, f, i, reasons=False)
    return np.asarray(batch.score, dtype=np.float64)


def window_labels(
    window: pd.DataFrame, controls: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Per window declaration: hit (any control found something), controlled, the
    propensity of its selection, revenue recovered; and the random controls' count."""
    c = controls[controls["declaration_id"].isin(window["declaration_id"])]
    per = (
        c.assign(hit=c["outcome"].isin(HIT_OUTCOMES))
        .groupby("declaration_id")
        .agg(
            hit=("hit", "max"),
            revenue=("revenue_recovered", "sum"),
            propensity=("propensity", "first"),
            random=("selection_basis", lambda s: bool((s == "random").any())),
        )
    )
    at = per.reindex(window["declaration_id"].astype(object).to_numpy())
    controlled = at["hit"].notna().to_numpy()
    propensity = at["propensity"].astype(float).to_numpy()
    unknown = controlled & ~np.isfinite(propensity)
    if unknown.any():  # chosen outside any logged policy: as if certain (weight 1)
        propensity = np.where(unknown, 1.0, propensity)
    return (
        at["hit"].eq(True).to_numpy(dtype=bool),
        controlled,
        np.where(controlled, propensity, 1.0),
        at["revenue"].fillna(0.0).to_numpy(dtype=np.float64),
        int(at["random"].eq(True).sum()),
    )


def evaluate(
    challenger: Path,
    champion: Path | None,
    frames: dict[str, pd.DataFrame],
    cut: int,
    config: RetrainConfig,
) -> Evaluation:
    """Both models' estimates on the held-out declarations (lodged from ``cut`` on)."""
    d = frames["declarations"]
    window = d[to_seconds(d["lodged_at"]) >= cut].reset_index(drop=True)
    hit, controlled, propensity, revenue, randoms = window_labels(window, frames["controls"])
    s_new = score_as_served(challenger, frames, cut, window)
    new = budget_estimates(
        s_new, hit, controlled, propensity, revenue, level=config.level, seed=config.seed
    )
    old = diff = None
    if champion is not None:
        s_old = score_as_served(champion, frames, cut, window)
        old = budget_estimates(
            s_old, hit, controlled, propensity, revenue, level=config.level, seed=config.seed
        )
        diff = difference(
            s_new,
            s_old,
            hit,
            controlled,
            propensity,
            revenue,
            metric=config.metric,
            level=config.level,
            seed=config.seed,
        )
    return Evaluation(len(window), int(controlled.sum()), randoms, new, old, diff)


def overlap_days(bundle: Path | None, cut: int) -> float:
    """Days by which a bundle's training history runs past ``cut`` (0 when it does not):
    such a champion was fitted on held-out results, and the comparison favours it."""
    if bundle is None:
        return 0.0
    return max(0.0, (state_end_of(read_bundle(bundle).manifest) - cut) / DAY)


def decide(evaluation: Evaluation, config: RetrainConfig) -> tuple[bool, str]:
    """Promote only when the difference's lower bound clears the margin; the reason."""
    diff = evaluation.difference
    if diff is None:
        return True, "no champion: the challenger becomes champion"
    text = (
        f"{config.metric} challenger minus champion {diff.value:+.4f}"
        f" ({config.level:.0%} interval {diff.low:+.4f} .. {diff.high:+.4f})"
    )
    if not np.isfinite(diff.low):
        return False, f"{text}: no estimate (no controls in the held-out weeks?)"
    if diff.low > config.margin:
        return True, f"{text}: lower bound above the margin {config.margin:g}"
    return False, f"{text}: lower bound not above the margin {config.margin:g}; champion kept"


def _champion_bundle(mlruns_dir: Path, work: Path) -> tuple[str, Path | None]:
    """The current champion's version and bundle ('' and None when there is none)."""
    mlflow = mlflow_at(mlruns_dir)
    client = mlflow.MlflowClient()
    try:
        version = str(client.get_model_version_by_alias("targeting", CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return "", None
    return version, resolve_model(mlruns_dir, f"models:/targeting/{version}", work)


def _iso(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


def retrain(
    frames: dict[str, pd.DataFrame],
    mlruns_dir: Path,
    config: RetrainConfig | None = None,
    source: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RetrainResult:
    """Train a challenger on the rolling window, compare it with the champion on the
    held-out weeks, promote it or say why not; one MLflow run with everything."""
    config = config or RetrainConfig()
    d = frames["declarations"]
    lodged = to_seconds(d["lodged_at"])
    end = int(lodged.max()) + 1
    cut = end - config.eval_weeks * 7 * DAY
    begin = max(int(lodged.min()), cut - config.window_days * DAY)
    if cut <= begin:
        raise ValueError(
            f"the history ({(end - int(lodged.min())) / DAY:.0f} days) does not cover"
            f" {config.eval_weeks} held-out weeks and a training window before them"
        )
    training = window_frames(frames, begin, cut)
    with tempfile.TemporaryDirectory(prefix="targeting-retrain-") as tmp:
        work = Path(tmp)
        champion, champion_bundle = _champion_bundle(mlruns_dir, work / "champion")
        progress(f"training the challenger on {_iso(begin)[:10]} .. {_iso(cut)[:10]}")
        trained = train(
            training,
            mlruns_dir,
            config.train,
            {**(source or {}), "retrain_window": f"{_iso(begin)[:10]}..{_iso(cut)[:10]}"},
            work_dir=work / "challenger",
        )
        progress(f"challenger: version {trained.registered.version}; scoring the held-out weeks")
        evaluation = evaluate(trained.bundle, champion_bundle, frames, cut, config)
        overlap = overlap_days(champion_bundle, cut)
    promoted, reason = decide(evaluation, config)
    if overlap > 0:
        reason += (
            f" (the champion's training history runs {overlap:.0f} days into the held-out"
            " weeks: it was fitted on some of their results, so the comparison favours it)"
        )
    if promoted:
        promote(mlruns_dir, trained.registered.version)
    window = {
        "train_start": _iso(begin),
        "held_out_start": _iso(cut),
        "end": _iso(end),
    }
    counts = {
        "declarations": len(d),
        "controls": len(frames["controls"]),
        "train_declarations": len(training["declarations"]),
        "train_controls": len(training["controls"]),
        "held_out_declarations": evaluation.rows,
        "held_out_controlled": evaluation.controlled,
        "held_out_random_controls": evaluation.random_controls,
        "champion_days_into_held_out": round(overlap),
    }
    run_id = _log(
        mlruns_dir,
        config,
        source or {},
        window,
        counts,
        trained.registered,
        champion,
        evaluation,
        promoted,
        reason,
    )
    return RetrainResult(
        run_id,
        trained.registered.version,
        champion,
        promoted,
        reason,
        window,
        counts,
        evaluation,
    )


def estimates_table(evaluation: Evaluation) -> pd.DataFrame:
    """Both models' estimates side by side, one row per metric."""
    rows = []
    for key, new in evaluation.challenger.items():
        row = {
            "metric": key,
            "challenger": new.value,
            "challenger_low": new.low,
            "challenger_high": new.high,
        }
        if evaluation.champion is not None:
            old = evaluation.champion[key]
            row.update(champion=old.value, champion_low=old.low, champion_high=old.high)
        row["quantity"] = new.quantity
        rows.append(row)
    return pd.DataFrame(rows)


def _log(
    mlruns_dir: Path,
    config: RetrainConfig,
    source: dict[str, str],
    window: dict[str, str],
    counts: dict[str, int],
    registered: object,
    champion: str,
    evaluation: Evaluation,
    promoted: bool,
    reason: str,
) -> str:
    """One run: window, counts, both models' estimates, the difference and the decision."""
    mlflow = mlflow_at(mlruns_dir)
    eid = experiment_id(mlruns_dir, EXPERIMENT)
    version = getattr(registered, "version", "")
    with mlflow.start_run(experiment_id=eid, run_name="retrain") as run:
        gate = {k: v for k, v in asdict(config).items() if k != "train"}
        mlflow.log_params({**source, **gate, **window})
        mlflow.log_dict(asdict(config), "config.json")
        mlflow.set_tags(
            {
                "challenger_version": version,
                "challenger_run_id": getattr(registered, "run_id", ""),
                "champion_version": champion,
                "promoted": str(promoted).lower(),
                "reason": reason,
            }
        )
        metrics = {f"rows_{k}": float(v) for k, v in counts.items()}
        for who in ("challenger", "champion"):
            found = getattr(evaluation, who)
            for key, est in (found or {}).items():
                name = key.replace("@", "_at_")
                metrics.update(
                    {
                        f"{who}_{name}": est.value,
                        f"{who}_{name}_low": est.low,
                        f"{who}_{name}_high": est.high,
                    }
                )
        if evaluation.difference is not None:
            diff = evaluation.difference
            metrics.update(
                difference=diff.value, difference_low=diff.low, difference_high=diff.high
            )
        metrics["promoted"] = float(promoted)
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        with tempfile.TemporaryDirectory(prefix="targeting-retrain-log-") as tmp:
            path = Path(tmp) / "estimates.csv"
            estimates_table(evaluation).to_csv(path, index=False)
            mlflow.log_artifact(str(path), "evaluation")
    return run.info.run_id
