"""Retrain with real small models: a clearly better challenger is promoted, a worse one
refused, rollback restores the previous champion; the decision log reads back as the
canonical frames it was scored from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.lgbm import TreeConfig
from models.train_network import NetworkConfig
from serving.log_frames import records_frames
from serving.schemas import scoring_record
from synth import WorldConfig, generate_world, write_world
from targeting.cli import app
from training.retrain import RetrainConfig, decide, merge_frames, retrain, window_frames
from training.smoke import smoke_records
from training.sources import canonical_frames
from training.tracking import champion_history, promote, rollback
from training.train import TrainConfig, train

# Random controls at 8 % so that four held-out weeks give the estimates some power.
WORLD = WorldConfig(seed=4, days=120, declarations_per_day=400, random_control_share=0.08)
QUICK = TrainConfig(
    tree=TreeConfig(max_rounds=120, threads=1),
    network=NetworkConfig(epochs=2, patience=1),
    select_groups=False,
)
GATE = RetrainConfig(window_days=90, eval_weeks=4, train=QUICK)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retrain-world")
    write_world(generate_world(WORLD), out)
    return out


@pytest.fixture(scope="module")
def frames(world_dir: Path) -> dict[str, pd.DataFrame]:
    return canonical_frames(world_dir)


def shuffled(frames: dict[str, pd.DataFrame], before: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The frames with the outcomes of declarations lodged before ``before`` permuted."""
    c = frames["controls"].copy()
    lodged = c["declaration_id"].map(frames["declarations"].set_index("declaration_id").lodged_at)
    early = (lodged < before).to_numpy()
    rng = np.random.default_rng(0)
    for col in ("outcome", "risk_type", "revenue_recovered"):
        values = c.loc[early, col].to_numpy()
        c.loc[early, col] = values[rng.permutation(len(values))]
    return {**frames, "controls": c}


def held_out_start(frames: dict[str, pd.DataFrame]) -> pd.Timestamp:
    end = frames["declarations"]["lodged_at"].max()
    return end - pd.Timedelta(weeks=GATE.eval_weeks)


def test_better_challenger_promoted_worse_refused_rollback_restores(
    frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    mlruns = tmp_path / "mlruns"
    cut = held_out_start(frames)
    noise = train(window_frames_of(shuffled(frames, cut), cut), mlruns, QUICK)
    assert noise.registered.version == "1"
    promote(mlruns, "1")

    # a champion trained on shuffled labels against a challenger trained on real ones
    better = retrain(frames, mlruns, GATE)
    assert better.promoted, better.reason
    assert better.challenger == "2"
    assert better.evaluation.difference is not None
    assert better.evaluation.difference.low > 0
    assert "lower bound above" in better.reason
    assert better.evaluation.champion is not None
    assert better.counts["champion_days_into_held_out"] == 0

    # now a challenger trained on shuffled labels against that champion
    worse = retrain(shuffled(frames, cut), mlruns, GATE)
    assert not worse.promoted, worse.reason
    assert worse.champion == better.challenger
    assert "champion kept" in worse.reason
    assert champion_history(mlruns)[-1] == "1"

    restored, demoted = rollback(mlruns)
    assert (restored, demoted) == ("1", better.challenger)


def window_frames_of(frames: dict[str, pd.DataFrame], cut: pd.Timestamp) -> dict:
    """The frames before the held-out weeks (the champion never sees them)."""
    begin = int(frames["declarations"]["lodged_at"].min().timestamp())
    return window_frames(frames, begin, int(cut.timestamp()))


def test_gate_needs_the_lower_bound_above_the_margin() -> None:
    from training.estimates import Estimate
    from training.retrain import Evaluation

    def gate(low: float, margin: float) -> bool:
        diff = Estimate(low + 0.02, low, low + 0.04, "challenger minus champion")
        evaluation = Evaluation(100, 10, 5, {}, {}, diff)
        return decide(evaluation, replace(GATE, margin=margin))[0]

    assert gate(0.01, 0.0)
    assert not gate(-0.01, 0.0)
    assert not gate(0.01, 0.02)
    alone = Evaluation(100, 10, 5, {}, None, None)
    assert decide(alone, GATE) == (True, "no champion: the challenger becomes champion")


def test_decision_log_declarations_read_back_as_canonical_frames(
    frames: dict[str, pd.DataFrame],
) -> None:
    rows = np.arange(0, 4000, 9)
    records = [scoring_record(r) for r in smoke_records(frames, rows)]
    back = records_frames(records)
    d = frames["declarations"].iloc[rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(back["declarations"][d.columns], d, check_dtype=False)
    linked = d["ens_id"].dropna().unique()
    for name, key in (
        ("ens_filings", ["filing_id", "version"]),
        ("ens_items", ["filing_id", "version", "item_no"]),
    ):
        want = frames[name][frames[name]["filing_id"].isin(linked)]
        want = want.sort_values(key).reset_index(drop=True)
        got = back[name].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def test_merge_replaces_rows_by_key(frames: dict[str, pd.DataFrame]) -> None:
    c = frames["controls"]
    changed = c.head(3).assign(outcome="seizure")
    merged = merge_frames(frames, {"controls": changed})
    assert len(merged["controls"]) == len(c)
    again = merged["controls"].set_index("control_id").loc[changed["control_id"], "outcome"]
    assert (again == "seizure").all()


def test_rollback_command_without_history_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(tmp_path / "mlruns"))
    run = CliRunner().invoke(app, ["rollback"])
    assert run.exit_code == 2
    assert "alias history is empty" in run.output
