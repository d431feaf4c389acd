"""``targeting retrain`` and ``targeting rollback`` as an analyst runs them: a champion
trained on the early weeks, the later weeks scored into the service's decision log and
their control results posted to its control store (the serving classes themselves),
then the commands on that log (real LightGBM, ONNX Runtime, MLflow under tmp_path)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import training.retrain
from canonical.frames import write_table
from features.timebase import to_seconds
from models.bundle import read_bundle
from models.lgbm import TreeConfig
from models.train_network import NetworkConfig
from serving.controls import ControlStore
from serving.decision_log import DecisionLog, DecisionRecord
from serving.engine import request_hash
from serving.log_frames import logged_frames
from serving.schemas import DECLARATION, declaration_json, scoring_record
from serving.scoring import Scorer
from synth import WorldConfig, generate_world, write_world
from targeting.cli import app
from training.retrain import RetrainConfig, window_frames
from training.smoke import smoke_records
from training.sources import canonical_frames
from training.tracking import (
    CHAMPION,
    MODEL_NAME,
    champion_history,
    mlflow_at,
    promote,
    resolve_model,
)
from training.train import TrainConfig, train

# Smaller than test_retrain.py (two trainings must fit a minute); random controls at 8 %
# still give four held-out weeks the power to tell a model from noise.
WORLD = WorldConfig(seed=4, days=90, declarations_per_day=250, random_control_share=0.08)
QUICK = TrainConfig(
    tree=TreeConfig(max_rounds=120, threads=1),
    network=NetworkConfig(epochs=2, patience=1),
    select_groups=False,
    refit=False,
)
LOGGED_DAYS = 35  # the service's weeks: one inside the training window, four held out
EVAL_WEEKS = 4
WINDOW_DAYS = 90
SERVED = ("model", "random")  # the bases this service's decisions have (besides none)


@dataclass(frozen=True)
class Served:
    """The early part as a canonical directory, the later part as the service logged it."""

    history: Path
    decision_db: Path
    mlruns: Path
    frames: dict[str, pd.DataFrame]  # the whole world, as generated
    split: pd.Timestamp  # the service took over from here
    posted: pd.DataFrame  # the control results posted to the store, as the world has them


def before(frames: dict[str, pd.DataFrame], split: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """What was known at ``split``: declarations lodged, results recorded, ENS filed."""
    begin = int(frames["declarations"]["lodged_at"].min().timestamp())
    return window_frames(frames, begin, int(split.timestamp()))


def noise(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The frames with their control outcomes permuted (a champion that learns nothing)."""
    c = frames["controls"].copy()
    order = np.random.default_rng(0).permutation(len(c))
    for col in ("outcome", "risk_type", "revenue_recovered"):
        c[col] = c[col].to_numpy()[order]
    return {**frames, "controls": c}


def decision_records(
    bundle: Path, frames: dict[str, pd.DataFrame], rows: np.ndarray
) -> list[DecisionRecord]:
    """The champion's decisions on ``rows`` as the engine logs them: validated and stored
    declarations, scores and features of the bundle's scorer, and the selection the
    world's policy made (its basis and propensity when it was the model or random arm)."""
    validated = [DECLARATION.validate_json(json.dumps(r)) for r in smoke_records(frames, rows)]
    stored = [declaration_json(d) for d in validated]
    scorer = Scorer(read_bundle(bundle), device="cpu", threads=1)
    batch = scorer.score_records([scoring_record(d) for d in validated], reasons=False)
    c = frames["controls"]
    chosen = c[c["selection_basis"].isin(SERVED)].drop_duplicates("declaration_id")
    basis = chosen.set_index("declaration_id")[["selection_basis", "propensity"]]
    out = []
    for i, declaration_id in enumerate(batch.declaration_id.tolist()):
        arm, p = basis.loc[declaration_id] if declaration_id in basis.index else ("none", 0.08)
        out.append(
            DecisionRecord(
                decision_id=f"D{i:07d}",
                declaration_id=str(declaration_id),
                decided_at=validated[i]["lodged_at"].isoformat(),
                request_id=f"R{i:07d}",
                request_hash=request_hash(stored[i]),
                model_name=MODEL_NAME,
                model_version="1",
                model_alias=CHAMPION,
                feature_spec_hash=str(scorer.manifest["feature_spec_hash"]),
                score=float(batch.score[i]),
                expected_revenue=float(batch.expected_revenue[i]),
                risk_band=str(batch.band[i]),
                risk_type=str(batch.risk_type[i]),
                selected=arm != "none",
                basis=arm,
                propensity=float(p),
                random_probability=0.08,
                threshold=0.5,
                reasons=None,
                features=batch.features[i],
                declaration=stored[i],
            )
        )
    return out


def posted_results(controls: pd.DataFrame, decided: pd.Series) -> list[dict]:
    """Results as an officer posts them: JSON fields; no basis or propensity for the
    controls of declarations this service selected (the store fills them in from its
    decision), theirs for the others (selected before the service, or by a rule)."""
    out = []
    mine = controls["declaration_id"].isin(decided) & controls["selection_basis"].isin(SERVED)
    records = json.loads(controls.to_json(orient="records", date_format="iso"))
    for row, served in zip(records, mine, strict=True):
        if served:
            row.pop("selection_basis")
            row.pop("propensity")
        out.append({k: v for k, v in row.items() if v is not None})
    return out


def champion_now(client: Any) -> str:
    """The version the champion alias names."""
    return str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    out = tmp_path_factory.mktemp("retrain-cli")
    write_world(generate_world(WORLD), out / "world")
    frames = canonical_frames(out / "world")
    split = frames["declarations"]["lodged_at"].max() - pd.Timedelta(days=LOGGED_DAYS)
    early = before(frames, split)
    history = out / "history"
    for name, frame in early.items():
        write_table(frame, name, history / f"{name}.parquet")

    mlruns = out / "mlruns"
    champion = train(noise(early), mlruns, QUICK)
    promote(mlruns, champion.registered.version)
    bundle = resolve_model(mlruns, "models:/targeting/1", out / "champion")

    d = frames["declarations"]
    rows = np.flatnonzero((d["lodged_at"] >= split).to_numpy())
    decision_db = out / "decisions.sqlite"
    log = DecisionLog(decision_db)
    log.append(decision_records(bundle, frames, rows))
    c = frames["controls"]
    posted = c[~c["control_id"].isin(early["controls"]["control_id"])]
    store = ControlStore(decision_db, log)
    store.record(posted_results(posted, d["declaration_id"].iloc[rows]))
    store.close()
    log.close()
    return Served(history, decision_db, mlruns, frames, split, posted)


def test_decision_log_reads_back_the_declarations_and_the_filled_in_results(
    served: Served,
) -> None:
    logged = logged_frames(served.decision_db)
    d = served.frames["declarations"]
    later = d[d["lodged_at"] >= served.split].reset_index(drop=True)
    got = logged["declarations"].sort_values("declaration_id").reset_index(drop=True)
    want = later.sort_values("declaration_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    back = logged["controls"].sort_values("control_id").reset_index(drop=True)
    want = served.posted.sort_values("control_id").reset_index(drop=True)
    filled = want["selection_basis"].isin(SERVED) & want["declaration_id"].isin(
        got["declaration_id"]
    )
    assert filled.sum() > 100  # posted without basis or propensity: the store filled them
    pd.testing.assert_frame_equal(back[want.columns], want, check_dtype=False)


def test_retrain_then_rollback_commands(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(served.mlruns))
    monkeypatch.setenv("TARGETING_DATA_DIR", str(tmp_path / "data"))
    # the command trains with the default TrainConfig: the small one here, same path
    monkeypatch.setattr(training.retrain, "RetrainConfig", partial(RetrainConfig, train=QUICK))
    run = CliRunner().invoke(
        app,
        [
            "retrain",
            "--history",
            str(served.history),
            "--decision-db",
            str(served.decision_db),
            "--window-days",
            str(WINDOW_DAYS),
            "--eval-weeks",
            str(EVAL_WEEKS),
        ],
    )
    assert run.exit_code == 0, run.output
    d = served.frames["declarations"]
    later = int((d["lodged_at"] >= served.split).sum())
    assert f"{later:,} declarations, {len(served.posted):,} control results" in run.output

    verdict = re.search(
        r"challenger version (\d+) (promoted to champion|not promoted): precision@5"
        r" challenger minus champion ([-+]\d\.\d{4}) \(95% interval ([-+]\d\.\d{4})"
        r" \.\. ([-+]\d\.\d{4})\)",
        run.output,
    )
    assert verdict is not None, run.output
    version, decision = verdict.group(1), verdict.group(2)
    value, low, high = (float(verdict.group(k)) for k in (3, 4, 5))
    assert version == "2"
    assert low <= value <= high
    # a challenger trained on the real outcomes against a champion trained on noise
    assert decision == "promoted to champion", run.output
    assert low > 0

    run_id = re.search(r"MLflow run (\w+) \(experiment targeting-retrain\)", run.output)
    assert run_id is not None, run.output
    mlflow = mlflow_at(served.mlruns)
    client = mlflow.MlflowClient()
    logged = client.get_run(run_id.group(1)).data
    assert logged.tags["promoted"] == "true"
    assert logged.tags["challenger_version"] == "2"
    assert logged.tags["champion_version"] == "1"
    assert logged.params["decision_db"] == str(served.decision_db)
    assert logged.params["history"] == str(served.history)
    assert logged.metrics["difference"] == pytest.approx(value, abs=5e-5)
    assert logged.metrics["difference_low"] == pytest.approx(low, abs=5e-5)
    assert logged.metrics["difference_high"] == pytest.approx(high, abs=5e-5)
    for who in ("challenger", "champion"):
        shown = f"{logged.metrics[f'{who}_precision_at_5']:.3f}"
        assert re.search(rf"precision@5 .*{re.escape(shown)}", run.output), who

    lodged = to_seconds(d["lodged_at"])
    end = int(lodged.max()) + 1
    cut = end - EVAL_WEEKS * 7 * 86_400
    begin = max(int(lodged.min()), cut - WINDOW_DAYS * 86_400)
    window = {"train_start": begin, "held_out_start": cut, "end": end}
    for key, seconds in window.items():
        assert pd.Timestamp(logged.params[key]) == pd.Timestamp(seconds, unit="s", tz="UTC")
    c = served.frames["controls"]
    trained_on = d[(lodged >= begin) & (lodged < cut)]["declaration_id"]
    known = c["declaration_id"].isin(trained_on) & (to_seconds(c["controlled_at"]) < cut)
    held_out = d[lodged >= cut]["declaration_id"]
    counts = {
        "declarations": len(d),
        "controls": len(c),
        "train_declarations": len(trained_on),
        "train_controls": int(known.sum()),
        "held_out_declarations": len(held_out),
        "held_out_controlled": c.loc[
            c["declaration_id"].isin(held_out), "declaration_id"
        ].nunique(),
        "champion_days_into_held_out": 0,
    }
    for key, count in counts.items():
        assert logged.metrics[f"rows_{key}"] == count, key
    assert champion_now(client) == "2"
    assert champion_history(served.mlruns) == ["1"]

    back = CliRunner().invoke(app, ["rollback"])
    assert back.exit_code == 0, back.output
    assert "champion: version 1 (was 2)" in back.output
    assert champion_now(client) == "1"
    again = CliRunner().invoke(app, ["rollback"])
    assert again.exit_code == 2
    assert "error: no previous champion to restore" in again.output
    assert champion_now(client) == "1"
