"""One training run: features -> labels -> split -> features as served -> trees (feature
groups selected), network, blend -> evaluation as served -> refit -> bundle -> MLflow run
and registered version (alias challenger).

Validation and test windows are measured on features as the service computes them
(``training.served``: state at the window start, the window's labels hidden, its
declarations folded as they arrive): early stopping, the feature groups, the blend
weight and the calibration are chosen on as-served validation, and the headline
``test_*`` metrics are as served. The same test window on training's live-label
features is kept under ``test_live_*`` for comparison. After selection the models are
refitted on all labelled history and that refit is registered; the test metrics stay
those of the evaluated model (trained on the train window), which is logged beside it.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import pandas as pd

from canonical.schema import RISK_TYPES
from features import FeaturePipeline
from features.profiles import ProfileBlock
from features.state_io import save_state
from graph.pipeline_blocks import all_blocks
from models.blend import fit_blend, smearing_factor
from models.bundle import (
    ENCODER_DIR,
    FEATURES_DIR,
    TREES_TEXT,
    git_commit,
    library_versions,
    write_manifest,
)
from models.drift import PARTY_COLUMNS, DriftReference
from models.encoding import CategoryEncoder
from models.export import export_scorer
from models.lgbm import TreeConfig, ipw_weights, train_trees
from models.train_network import NetworkConfig, NetworkData, predict_network, train_network
from training import plots
from training.dataset import Labelled, label_declarations
from training.distributed import history_matrix
from training.drift import psi_summary, psi_table
from training.evaluate import traffic_estimates
from training.groups import (
    GroupSelection,
    Measured,
    bootstrap_rows,
    group_of,
    measure,
    model_groups,
    select_groups,
)
from training.refit import Models, refit_models
from training.report import EvaluationWindow, unweighted_calibration_check, window_report
from training.served import WindowFeatures, default_pipeline, served_window
from training.smoke import smoke_records, smoke_scores
from training.split import time_split
from training.tracking import Registered, local_artifact_path, log_run

StepFn = Callable[[str], contextlib.AbstractContextManager[None]]
BASELINE_FEATURE = "importer__hit_rate"
QUANTILE_SHARES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
SMOKE_ROWS = 8
EVALUATED_NOTE = (
    "test metrics (test_*) are those of the model trained on the train window and selected"
    " on as-served validation, measured on the test window as served; the registered"
    " model is that model refitted on all labelled history"
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a run (logged as params)."""

    valid_share: float = 0.15
    test_share: float = 0.15
    calibration: str = "platt"  # smooth; isotonic steps to 1.0 on small validation sets
    calibration_weights: str = "ipw"  # ipw: a probability on all traffic; none: on controls
    ipw: bool = False
    network_margin: float = 0.01  # validation precision@5 % the network must add to get weight
    select_groups: bool = True
    refit: bool = True
    cross_fit: bool = False  # training rows' label statistics cross-fitted by time blocks
    cross_fit_folds: int = 5
    band_high_share: float = 0.02
    band_medium_share: float = 0.10
    tree: TreeConfig = field(default_factory=TreeConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)


@dataclass
class TrainResult:
    """What a run produced: ``bundle`` holds the registered (refitted) model,
    ``evaluated_trees`` the trees the test metrics measure."""

    registered: Registered
    metrics: dict[str, float]
    bundle: Path
    timings: dict[str, float]
    evaluated_trees: Path


@contextlib.contextmanager
def _quiet_step(name: str) -> Iterator[None]:
    yield


def _bands(scores: np.ndarray, high: float, medium: float) -> dict[str, float]:
    """Score thresholds putting ``high`` and ``medium`` shares of ``scores`` above them."""
    return {
        "high": float(np.quantile(scores, 1 - high)),
        "medium": float(np.quantile(scores, 1 - medium)),
    }


def _share_quantiles(scores: np.ndarray) -> dict[str, float]:
    """Thresholds with each of QUANTILE_SHARES of ``scores`` above: serving's warm-up points."""
    return {str(share): float(np.quantile(scores, 1 - share)) for share in QUANTILE_SHARES}


def _cross_fitted(
    pipeline: FeaturePipeline, x: np.ndarray, rows: np.ndarray, at: int, config: TrainConfig
) -> np.ndarray:
    """``x`` with the given rows' label statistics cross-fitted from the results known
    before ``at`` (``FeaturePipeline.transform_cross_fitted``)."""
    out = x.copy()
    inputs = pipeline.fitted_inputs_.take(rows)
    out[rows] = pipeline.transform_cross_fitted(inputs, at, config.cross_fit_folds)
    return out


def _traffic_scores(models: Models, features: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Blended scores of every given declaration, labelled or not (traffic, as served)."""
    p_net = predict_network(models.net, features, codes)["p"]
    return models.blend.score(models.booster.predict(features), p_net)


def drift_reference(
    names: list[str],
    x_valid: np.ndarray,
    valid_scores: np.ndarray,
    declarations: pd.DataFrame,
    window: dict[str, str],
    used: np.ndarray,
) -> DriftReference:
    """The bundle's drift reference: the validation window as served and its scores, and
    the party and code values of every declaration of the training data."""
    seen = {
        c: pd.unique(declarations[c].dropna().astype(str))
        for c in PARTY_COLUMNS
        if c in declarations
    }
    seen["hs6"] = pd.unique(declarations["hs_code"].dropna().astype(str).str[:6])
    seen["origin_country"] = pd.unique(declarations["origin_country"].dropna().astype(str))
    return DriftReference.fit(
        names,
        x_valid,
        valid_scores,
        seen,
        f"validation window as served ({window['valid_start'][:10]}..{window['test_start'][:10]})"
        f" scored by the registered model; values seen up to {window['end'][:10]}",
        used,
    )


def _part(
    lab: Labelled, mask: np.ndarray, x: np.ndarray, codes: np.ndarray, ipw: bool
) -> NetworkData:
    """The labelled rows of ``mask`` with the feature rows ``x`` (aligned with them)."""
    weight = ipw_weights(lab.propensity[mask]) if ipw else np.ones(int(mask.sum()))
    return NetworkData(x, codes, lab.y[mask], lab.revenue[mask], lab.risk[mask], weight)


def _select_trees(
    parts: dict[str, NetworkData],
    names: list[str],
    groups: dict[str, tuple[str, ...]],
    config: TrainConfig,
    client: Any = None,
) -> tuple[GroupSelection, lgb.Booster, dict[str, float]]:
    """Group selection by trees early-stopped and scored on as-served validation, and the
    trees on the kept groups."""
    tr, va = parts["train"], parts["valid"]
    fitted: dict[bytes, tuple[lgb.Booster, dict[str, float]]] = {}
    resamples = bootstrap_rows(len(va.y))

    def score(keep: np.ndarray) -> Measured:
        booster, info = train_trees(
            tr.features, tr.y, tr.weight, va.features, va.y, names, config.tree, keep, client
        )
        fitted[keep.tobytes()] = (booster.free_dataset(), info)  # keep the model only
        return measure(booster.predict(va.features), va.y, resamples)

    selection = select_groups(names, groups, score, enabled=config.select_groups)
    booster, info = fitted[selection.keep.tobytes()]
    return selection, booster, info


def train(
    frames: dict[str, pd.DataFrame],
    mlruns_dir: Path,
    config: TrainConfig | None = None,
    source: dict[str, str] | None = None,
    step: StepFn = _quiet_step,
    work_dir: Path | None = None,
    client: Any = None,
) -> TrainResult:
    """Train, evaluate as served on the latest part of the history, refit, and register.
    ``client``: a Dask client (``training.distributed``): the history's point-in-time
    matrix by time blocks on its workers, the trees with LightGBM's Dask interface.

    The bundle, plots and tables are written under ``work_dir`` (kept) or, without one, in
    a temporary directory removed on every path, success or error: the result then points
    at the run's logged copies under ``mlruns_dir`` (the bundle the registry serves).
    """
    if work_dir is not None:
        return _train(frames, mlruns_dir, config, source, step, Path(work_dir), client)
    with tempfile.TemporaryDirectory(prefix="targeting-train-") as scratch:
        result = _train(frames, mlruns_dir, config, source, step, Path(scratch), client)
    logged = local_artifact_path(result.registered.source)
    return replace(
        result,
        bundle=logged,
        evaluated_trees=logged.parent / "evaluated_model" / TREES_TEXT,
    )


def _train(
    frames: dict[str, pd.DataFrame],
    mlruns_dir: Path,
    config: TrainConfig | None,
    source: dict[str, str] | None,
    step: StepFn,
    work: Path,
    client: Any = None,
) -> TrainResult:
    """One run writing its files under ``work`` (see ``train``)."""
    config = config or TrainConfig()
    d = frames["declarations"]
    c = frames.get("controls")
    if c is None or len(c) == 0:
        raise ValueError("no control results: training needs labelled (controlled) declarations")
    f, i = frames.get("ens_filings"), frames.get("ens_items")
    timings: dict[str, float] = {}

    def timed(name: str) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def run() -> Iterator[None]:
            began = time.perf_counter()
            with step(name):
                yield
            timings[name] = time.perf_counter() - began

        return run()

    with timed("features"):
        pipeline = FeaturePipeline(all_blocks()).fit(d, c, f, i)
        inputs = pipeline.fitted_inputs_
        split = time_split(inputs.time, config.valid_share, config.test_share)
        # Smoothing strengths: a hyperparameter estimated on the training window's
        # results only, then used by every pipeline of the run, the bundle's included.
        profiles = cast(ProfileBlock, pipeline.block("profiles"))
        strengths = profiles.estimated_strengths(split.valid_start)
        profiles.use_strengths(strengths)
        profile_config = profiles.config
        x_all = history_matrix(pipeline, inputs, client, work)
        names = list(pipeline.spec_.names)
    with timed("labels and split"):
        lab = label_declarations(d, c, split)
        window = split.assign(inputs.time)
        encoder = CategoryEncoder.fit(inputs.take(np.flatnonzero(window == "train")))
        codes_all = encoder.transform(inputs)
    x_train = x_all
    if config.cross_fit:  # the training matrix only: evaluated windows stay as served
        with timed("cross-fitting"):
            x_train = _cross_fitted(
                pipeline, x_all, np.flatnonzero(window == "train"), split.valid_start, config
            )
    with timed("features as served"):
        served: dict[str, WindowFeatures] = {
            name: served_window(
                frames,
                start,
                np.flatnonzero(window == name),
                lambda: default_pipeline(profile_config),
            )
            for name, start in (("valid", split.valid_start), ("test", split.test_start))
        }
    rows = {name: lab.rows[lab.mask(name)] for name in ("train", "valid", "test")}
    parts = {
        "train": _part(
            lab, lab.mask("train"), x_train[rows["train"]], codes_all[rows["train"]], config.ipw
        ),
        **{
            name: _part(
                lab,
                lab.mask(name),
                served[name].at(rows[name]),
                codes_all[rows[name]],
                config.ipw,
            )
            for name in ("valid", "test")
        },
    }
    for name, part in parts.items():
        if part.y.sum() == 0:
            raise ValueError(f"the {name} window has no irregularity: not enough labels")
    te = parts["test"]
    groups = model_groups(pipeline.spec_.groups)
    with timed("LightGBM"):
        selection, booster, tree_info = _select_trees(parts, names, groups, config, client)
    with timed("network"):
        tr, va = parts["train"], parts["valid"]
        net, net_info = train_network(
            tr, va, encoder.cardinalities(), len(RISK_TYPES), config.network, selection.keep
        )
    with timed("blend"):
        fitted = ("train", "valid")
        p_tree = {k: booster.predict(parts[k].features) for k in fitted}
        p_net = {k: predict_network(net, parts[k].features, parts[k].codes) for k in fitted}
        lab_valid = lab.mask("valid")
        calibration_weight = (
            ipw_weights(lab.propensity[lab_valid]) if config.calibration_weights == "ipw" else None
        )
        blend, weight_scores = fit_blend(
            p_tree["valid"],
            p_net["valid"]["p"],
            va.y,
            config.calibration,
            config.network_margin,
            calibration_weight,
        )
        hits = tr.y > 0
        smearing = smearing_factor(p_net["train"]["log_revenue"][hits], tr.revenue[hits])
        blend = replace(blend, revenue_smearing=smearing)
        evaluated = Models(booster, net, blend)
    with timed("evaluation"):
        col = names.index(BASELINE_FEATURE)
        held_out = EvaluationWindow(
            served=te,
            live=replace(te, features=x_all[rows["test"]]),
            lodged=inputs.time[rows["test"]],
            mode=inputs.text["transport_mode"][rows["test"]],
            aeo=inputs.flag["importer_aeo"][rows["test"]],
            basis=lab.basis[lab.mask("test")],
        )
        metrics, by_month, scores = window_report(evaluated, held_out, col)
        metrics.update(unweighted_calibration_check(evaluated, va, held_out, config.calibration))
        test_traffic = _traffic_scores(evaluated, served["test"].x, codes_all[served["test"].rows])
        metrics["test_blend_mean_score_traffic"] = float(test_traffic.mean())
        metrics["rows_test_traffic"] = float(len(test_traffic))
        metrics.update({f"profile_strength__{k}": float(v) for k, v in strengths.items()})
        test_mask = lab.mask("test")
        unbiased = traffic_estimates(
            test_traffic,
            served["test"].rows,
            rows["test"],
            lab.y[test_mask],
            lab.revenue[test_mask],
            lab.propensity[test_mask],
        )
        metrics.update({f"test_blend_{k}": v for k, v in unbiased.items()})
        psi = psi_table(
            names,
            x_train[window == "train"],
            served["test"].x,
            group_of(groups),
            selection.keep,
        )
        metrics.update(psi_summary(psi))
        metrics.update(selection.metrics())
        metrics["valid_blend_weight"] = blend.weight
        metrics["valid_blend_precision_at_5"] = weight_scores[blend.weight]
        metrics["valid_lgbm_precision_at_5"] = weight_scores[1.0]
        metrics["valid_best_network_weight_precision_at_5"] = max(
            v for w, v in weight_scores.items() if w < 1.0
        )
        metrics.update({f"tree_{k}": v for k, v in tree_info.items()})
        metrics.update({f"network_{k}": v for k, v in net_info.items()})
        for name, part in parts.items():
            metrics[f"rows_{name}"] = float(len(part.y))
            metrics[f"positives_{name}"] = float(part.y.sum())
    with timed("refit"):
        if config.refit:
            x_refit = x_all
            if config.cross_fit:  # every labelled row, from every result known at the end
                x_refit = _cross_fitted(pipeline, x_all, np.arange(inputs.n), split.end, config)
            everything = _part(
                lab, np.ones(len(lab.y), bool), x_refit[lab.rows], codes_all[lab.rows], config.ipw
            )
            registered_models, refit_info = refit_models(
                evaluated,
                everything,
                names,
                selection.keep,
                len(tr.y),
                int(net_info["best_epoch"]),
                encoder.cardinalities(),
                len(RISK_TYPES),
                config.tree,
                config.network,
                client,
            )
            metrics.update(refit_info)
        else:
            registered_models = evaluated
        metrics["train_revenue_smearing"] = registered_models.blend.revenue_smearing
        # bands and warm-up points are shares of traffic: every declaration of the
        # validation window, as served, scored by the registered model
        traffic = _traffic_scores(
            registered_models, served["valid"].x, codes_all[served["valid"].rows]
        )
        bands = _bands(traffic, config.band_high_share, config.band_medium_share)
    bundle = work / "bundle"
    with timed("bundle"):
        bundle.mkdir(parents=True, exist_ok=True)
        pipeline.save(bundle / FEATURES_DIR)
        save_state(encoder.get_state(), bundle / ENCODER_DIR)
        registered_models.booster.save_model(str(bundle / TREES_TEXT))
        export_scorer(
            registered_models.booster,
            registered_models.net,
            registered_models.blend,
            len(names),
            bundle,
        )
        window_times = {
            k: datetime.fromtimestamp(v, UTC).isoformat() for k, v in split.to_dict().items()
        }
        window_times["start"] = datetime.fromtimestamp(int(inputs.time.min()), UTC).isoformat()
        evaluation = {
            "features": "as served: state at the window start, the window's labels hidden,"
            " its declarations folded as they arrive",
            "model": EVALUATED_NOTE if config.refit else "the registered model",
            "refit": config.refit,
        }
        manifest: dict[str, Any] = {
            "model_name": "targeting",
            "created_at": datetime.now(UTC).isoformat(),
            "git_commit": git_commit(),
            "training_window": window_times,
            "feature_spec_hash": pipeline.spec_.hash,
            "feature_code_version": pipeline.spec_.code_version,
            "feature_names": names,
            "feature_groups": {"kept": list(selection.kept), "dropped": list(selection.dropped)},
            "blend": registered_models.blend.to_dict(),
            "calibration": {
                "fitted_on": "as-served validation window, controlled rows",
                "weights": config.calibration_weights,
            },
            "bands": bands,
            "risk_types": list(RISK_TYPES),
            "embedded_columns": list(encoder.buckets),
            "libraries": library_versions(),
            "test_metrics": {k: v for k, v in metrics.items() if k.startswith("test_blend_")},
            "evaluation": evaluation,
            "band_shares": {"high": config.band_high_share, "medium": config.band_medium_share},
            "validation_score_quantiles": _share_quantiles(traffic),
        }
        if config.refit:
            manifest["refit"] = {k: metrics[k] for k in ("refit_rows", "refit_rounds")}
        valid_rows = rows["valid"]
        picks = valid_rows[np.linspace(0, len(valid_rows) - 1, SMOKE_ROWS).astype(int)]
        records = smoke_records(frames, picks)
        manifest["smoke_test"] = {
            "records": records,
            "scores": smoke_scores(bundle, pipeline, encoder, records),
        }
        drift_reference(names, served["valid"].x, traffic, d, window_times, selection.keep).save(
            bundle
        )
        write_manifest(bundle, manifest)
    with timed("plots"):
        plot_dir = work / "plots"
        plot_dir.mkdir(exist_ok=True)
        random = held_out.basis == "random"
        on_traffic = random if random.sum() >= 50 else np.ones(len(te.y), bool)
        sample = np.arange(min(len(te.y), 5000))
        contrib = booster.predict(te.features[sample], pred_contrib=True)[:, :-1]
        gain = booster.feature_importance(importance_type="gain")
        plot_paths = [
            plots.precision_curve(scores, te.y, plot_dir / "precision_at_n.png"),
            plots.pr_curve(scores, te.y, plot_dir / "pr_curve.png"),
            plots.calibration_plot(
                scores["blend"][on_traffic], te.y[on_traffic], plot_dir / "calibration.png"
            ),
            plots.importance_plot(names, gain, plot_dir / "feature_importance.png"),
            plots.shap_summary(names, contrib, te.features[sample], plot_dir / "shap_summary.png"),
        ]
        tables = work / "evaluation"
        tables.mkdir(exist_ok=True)
        by_month.to_csv(tables / "test_by_month.csv", index=False)
        psi.to_csv(tables / "psi_train_vs_served.csv", index=False)
        selection.table(groups).to_csv(tables / "feature_groups.csv", index=False)
        evaluated_dir = work / "evaluated_model"
        evaluated_dir.mkdir(exist_ok=True)
        evaluated_trees = evaluated_dir / TREES_TEXT
        booster.save_model(str(evaluated_trees))
    with timed("MLflow"):
        params: dict[str, Any] = {
            "data_window": f"{window_times['start'][:10]}..{window_times['end'][:10]}",
            "split": json.dumps(window_times),
            "feature_spec_hash": pipeline.spec_.hash,
            "feature_count": len(names),
            "dropped_feature_groups": json.dumps(pipeline.spec_.dropped),
            "feature_groups_kept": json.dumps(list(selection.kept)),
            "feature_groups_dropped": json.dumps(list(selection.dropped)),
            "test_features": "as_served",
            "test_metrics_model": "pre_refit" if config.refit else "registered",
            "git_commit": manifest["git_commit"],
            **(source or {}),
        }
        registered = log_run(
            mlruns_dir,
            params,
            metrics,
            plot_paths,
            bundle,
            tags={
                "feature_spec_hash": pipeline.spec_.hash,
                "test_metrics_model": evaluation["model"],
            },
            config=asdict(config),
            artifacts={
                "evaluation": sorted(tables.iterdir()),
                "evaluated_model": [evaluated_trees],
            },
        )
    return TrainResult(registered, metrics, bundle, timings, evaluated_trees)
