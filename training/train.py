"""One training run: features -> labels -> split -> trees, network, blend -> evaluation ->
bundle -> MLflow run and registered version (alias challenger)."""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from canonical.schema import RISK_TYPES
from features import FeaturePipeline
from features.state_io import save_state
from graph.pipeline_blocks import all_blocks
from models.blend import Blend, fit_blend, smearing_factor
from models.bundle import (
    ENCODER_DIR,
    FEATURES_DIR,
    TREES_TEXT,
    git_commit,
    library_versions,
    write_manifest,
)
from models.encoding import CategoryEncoder
from models.export import export_scorer
from models.lgbm import TreeConfig, ipw_weights, train_trees
from models.network import RiskNet
from models.train_network import NetworkConfig, NetworkData, predict_network, train_network
from training import plots
from training.dataset import label_declarations
from training.evaluate import evaluate
from training.smoke import smoke_records, smoke_scores
from training.split import time_split
from training.tracking import Registered, log_run

StepFn = Callable[[str], contextlib.AbstractContextManager[None]]
BASELINE_FEATURE = "importer__hit_rate"
QUANTILE_SHARES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
SMOKE_ROWS = 8


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a run (logged as params)."""

    valid_share: float = 0.15
    test_share: float = 0.15
    calibration: str = "platt"  # smooth; isotonic steps to 1.0 on small validation sets
    ipw: bool = False
    band_high_share: float = 0.02
    band_medium_share: float = 0.10
    tree: TreeConfig = field(default_factory=TreeConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)


@dataclass
class TrainResult:
    """What a run produced."""

    registered: Registered
    metrics: dict[str, float]
    bundle: Path
    timings: dict[str, float]


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


def _traffic_scores(
    booster: lgb.Booster, net: RiskNet, blend: Blend, features: np.ndarray, codes: np.ndarray
) -> np.ndarray:
    """Blended scores of every given declaration, labelled or not (traffic, as served)."""
    p_net = predict_network(net, features, codes)["p"]
    return blend.score(booster.predict(features), p_net)


def train(
    frames: dict[str, pd.DataFrame],
    mlruns_dir: Path,
    config: TrainConfig | None = None,
    source: dict[str, str] | None = None,
    step: StepFn = _quiet_step,
    work_dir: Path | None = None,
) -> TrainResult:
    """Train, evaluate on the latest part of the history, and register a version."""
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
        pipeline = FeaturePipeline(all_blocks())
        x_all = pipeline.fit_transform(d, c, f, i)
        names = list(pipeline.spec_.names)
        inputs = pipeline.fitted_inputs_
    with timed("labels and split"):
        split = time_split(inputs.time, config.valid_share, config.test_share)
        lab = label_declarations(d, c, split)
        train_rows = inputs.time < split.valid_start
        encoder = CategoryEncoder.fit(inputs.take(np.flatnonzero(train_rows)))
        codes_all = encoder.transform(inputs)
        parts = {}
        for name in ("train", "valid", "test"):
            m = lab.mask(name)
            rows = lab.rows[m]
            weight = ipw_weights(lab.propensity[m]) if config.ipw else np.ones(int(m.sum()))
            parts[name] = NetworkData(
                x_all[rows], codes_all[rows], lab.y[m], lab.revenue[m], lab.risk[m], weight
            )
        for name, part in parts.items():
            if part.y.sum() == 0:
                raise ValueError(f"the {name} window has no irregularity: not enough labels")
    with timed("LightGBM"):
        tr, va = parts["train"], parts["valid"]
        booster, tree_info = train_trees(
            tr.features, tr.y, tr.weight, va.features, va.y, names, config.tree
        )
    with timed("network"):
        net, net_info = train_network(
            tr, va, encoder.cardinalities(), len(RISK_TYPES), config.network
        )
    with timed("blend"):
        p_tree = {k: booster.predict(v.features) for k, v in parts.items()}
        p_net = {k: predict_network(net, v.features, v.codes) for k, v in parts.items()}
        blend, weight_scores = fit_blend(
            p_tree["valid"], p_net["valid"]["p"], va.y, config.calibration
        )
        hits = tr.y > 0
        smearing = smearing_factor(p_net["train"]["log_revenue"][hits], tr.revenue[hits])
        blend = replace(blend, revenue_smearing=smearing)
        test_score = blend.score(p_tree["test"], p_net["test"]["p"])
        # bands and warm-up points are shares of traffic: every declaration of the window
        in_valid = np.flatnonzero(split.assign(inputs.time) == "valid")
        traffic = _traffic_scores(booster, net, blend, x_all[in_valid], codes_all[in_valid])
        bands = _bands(traffic, config.band_high_share, config.band_medium_share)
    with timed("evaluation"):
        te = parts["test"]
        m_test = lab.mask("test")
        rows_test = lab.rows[m_test]
        mode = inputs.text["transport_mode"][rows_test]
        aeo = inputs.flag["importer_aeo"][rows_test]
        basis = lab.basis[m_test]
        baseline = x_all[rows_test, names.index(BASELINE_FEATURE)]
        metrics: dict[str, float] = {}
        candidates = {
            "lgbm": (p_tree["test"], False),
            "network": (p_net["test"]["p"], False),
            "blend": (test_score, True),
            "baseline": (baseline, False),
        }
        for label, (s, calibrated) in candidates.items():
            for key, value in evaluate(s, te.y, te.revenue, mode, aeo, basis, calibrated).items():
                metrics[f"test_{label}_{key}"] = value
        metrics["valid_blend_weight"] = blend.weight
        metrics["train_revenue_smearing"] = blend.revenue_smearing
        metrics["valid_blend_precision_at_5"] = weight_scores[blend.weight]
        metrics.update({f"tree_{k}": v for k, v in tree_info.items()})
        metrics.update({f"network_{k}": v for k, v in net_info.items()})
        for name, part in parts.items():
            metrics[f"rows_{name}"] = float(len(part.y))
            metrics[f"positives_{name}"] = float(part.y.sum())
    work = Path(work_dir or tempfile.mkdtemp(prefix="targeting-train-"))
    bundle = work / "bundle"
    with timed("bundle"):
        bundle.mkdir(parents=True, exist_ok=True)
        pipeline.save(bundle / FEATURES_DIR)
        save_state(encoder.get_state(), bundle / ENCODER_DIR)
        booster.save_model(str(bundle / TREES_TEXT))
        export_scorer(booster, net, blend, len(names), bundle)
        window = {k: datetime.fromtimestamp(v, UTC).isoformat() for k, v in split.to_dict().items()}
        window["start"] = datetime.fromtimestamp(int(inputs.time.min()), UTC).isoformat()
        manifest: dict[str, Any] = {
            "model_name": "targeting",
            "created_at": datetime.now(UTC).isoformat(),
            "git_commit": git_commit(),
            "training_window": window,
            "feature_spec_hash": pipeline.spec_.hash,
            "feature_code_version": pipeline.spec_.code_version,
            "feature_names": names,
            "blend": blend.to_dict(),
            "bands": bands,
            "risk_types": list(RISK_TYPES),
            "embedded_columns": list(encoder.buckets),
            "libraries": library_versions(),
            "test_metrics": {k: v for k, v in metrics.items() if k.startswith("test_blend_")},
            "band_shares": {"high": config.band_high_share, "medium": config.band_medium_share},
            "validation_score_quantiles": _share_quantiles(traffic),
        }
        valid_rows = lab.rows[lab.mask("valid")]
        picks = valid_rows[np.linspace(0, len(valid_rows) - 1, SMOKE_ROWS).astype(int)]
        records = smoke_records(frames, picks)
        manifest["smoke_test"] = {
            "records": records,
            "scores": smoke_scores(bundle, pipeline, encoder, records),
        }
        write_manifest(bundle, manifest)
    with timed("plots"):
        plot_dir = work / "plots"
        plot_dir.mkdir(exist_ok=True)
        scores = {
            "blend": test_score,
            "lgbm": p_tree["test"],
            "network": p_net["test"]["p"],
            "baseline": baseline,
        }
        sample = np.arange(min(len(te.y), 5000))
        contrib = booster.predict(te.features[sample], pred_contrib=True)[:, :-1]
        gain = booster.feature_importance(importance_type="gain")
        plot_paths = [
            plots.precision_curve(scores, te.y, plot_dir / "precision_at_n.png"),
            plots.pr_curve(scores, te.y, plot_dir / "pr_curve.png"),
            plots.calibration_plot(test_score, te.y, plot_dir / "calibration.png"),
            plots.importance_plot(names, gain, plot_dir / "feature_importance.png"),
            plots.shap_summary(names, contrib, te.features[sample], plot_dir / "shap_summary.png"),
        ]
    with timed("MLflow"):
        params: dict[str, Any] = {
            "data_window": f"{window['start'][:10]}..{window['end'][:10]}",
            "split": json.dumps(window),
            "feature_spec_hash": pipeline.spec_.hash,
            "feature_count": len(names),
            "dropped_feature_groups": json.dumps(pipeline.spec_.dropped),
            "git_commit": manifest["git_commit"],
            **(source or {}),
        }
        registered = log_run(
            mlruns_dir,
            params,
            metrics,
            plot_paths,
            bundle,
            tags={"feature_spec_hash": pipeline.spec_.hash},
            config=asdict(config),
        )
    return TrainResult(registered, metrics, bundle, timings)
