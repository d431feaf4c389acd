"""`targeting score` on the live feature state: what was scored before is folded in, a
row never sees itself or a later row, and daily runs equal one run over the period."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from canonical.frames import write_table
from features.live import LiveState
from graph.pipeline_blocks import all_blocks
from models.bundle import read_bundle
from serving.live import bundle_source
from targeting.cli import app
from training.train import TrainResult

SHIFT = pd.Timedelta(days=12)


@pytest.fixture(scope="module")
def later(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The history's last 5 days replayed 12 days later under new ids: declarations the
    bundle's state has never seen, lodged after its history ended."""
    d = frames["declarations"]
    tail = d[d.lodged_at >= d.lodged_at.max() - pd.Timedelta(days=5)].copy()
    tail["declaration_id"] = "N-" + tail["declaration_id"].astype(str)
    tail["lodged_at"] = tail["lodged_at"] + SHIFT
    tail["ens_id"] = None
    return tail.sort_values("lodged_at", kind="stable").reset_index(drop=True)


def _score(bundle: Path, rows: pd.DataFrame, folder: Path, name: str, *options: str) -> Result:
    path = folder / f"{name}.parquet"
    write_table(rows, "declarations", path)
    args = ["score", "--model", str(bundle), "--declarations", str(path)]
    return CliRunner().invoke(app, [*args, "--out", str(folder / f"{name}.csv"), *options])


def _scores(folder: Path, name: str) -> pd.Series:
    return pd.read_csv(folder / f"{name}.csv").set_index("declaration_id")["score"]


def _days(rows: pd.DataFrame) -> list[pd.DataFrame]:
    day = rows.lodged_at.dt.floor("D")
    return [rows[day == d] for d in sorted(day.unique())]


def test_daily_runs_equal_one_run_and_the_state_moves(
    trained: tuple[TrainResult, Path], later: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = trained[0].bundle
    daily, whole = tmp_path / "daily", tmp_path / "whole"
    daily.mkdir()
    whole.mkdir()
    parts = []
    for n, day in enumerate(_days(later)):
        run = _score(bundle, day, daily, f"day{n}", "--state", str(daily / "state"))
        assert run.exit_code == 0, run.output
        parts.append(_scores(daily, f"day{n}"))
    assert "live feature state resumed" in run.output
    by_day = pd.concat(parts)
    run = _score(bundle, later, whole, "all", "--state", str(whole / "state"))
    assert run.exit_code == 0, run.output
    assert "live feature state started" in run.output
    pd.testing.assert_series_equal(by_day.sort_index(), _scores(whole, "all").sort_index())

    source = bundle_source(read_bundle(bundle).manifest)
    saved = LiveState.load(daily / "state", source, blocks=all_blocks())
    assert saved is not None
    assert saved.meta.folded_declarations == len(later)
    assert saved.meta.state_end == int(later.lodged_at.max().timestamp())
    # Scored from the training-end state instead, the last days' activity counts fall.
    last = _days(later)[-1]
    run = _score(bundle, last, tmp_path, "frozen", "--frozen")
    assert run.exit_code == 0, run.output
    assert "warning: rows lie up to" in run.output
    names = saved.pipeline.get_feature_names_out().tolist()
    col = names.index("importer__n30d")
    live_x = saved.pipeline.transform(last)[:, col]
    assert LiveState.load(daily / "state", "nothing-saved-here") is None
    from serving.scoring import Scorer

    frozen_x = Scorer.from_bundle(bundle).pipeline.transform(last)[:, col]
    assert live_x.mean() > frozen_x.mean() + 1.0


def test_a_row_never_sees_itself_or_later_rows(
    trained: tuple[TrainResult, Path], later: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = trained[0].bundle
    first = _days(later)[0]
    alone, together = tmp_path / "alone", tmp_path / "together"
    alone.mkdir()
    together.mkdir()
    head = first.iloc[:50]
    assert _score(bundle, head, alone, "s", "--state", str(alone / "state")).exit_code == 0
    run = _score(bundle, later, together, "s", "--state", str(together / "state"))
    assert run.exit_code == 0, run.output
    # The same 50 rows scored with every later row of the period in the same batch.
    np.testing.assert_array_equal(
        _scores(alone, "s").to_numpy(), _scores(together, "s").loc[head.declaration_id].to_numpy()
    )


def test_control_results_are_folded_when_known(
    trained: tuple[TrainResult, Path],
    later: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    tmp_path: Path,
) -> None:
    """A result known before a row moves its importer's control history; one known only
    after the row does not."""
    bundle = trained[0].bundle
    days = _days(later)
    first, target = pd.concat(days[:4]), days[-1].iloc[:200]
    both = target.importer_id[target.importer_id.isin(first.importer_id)]
    importer = both.value_counts().index[0]
    earlier = first[first.importer_id == importer].iloc[:1]
    assert len(earlier) == 1
    results = pd.DataFrame(
        {
            "control_id": ["C-live-1"],
            "declaration_id": earlier.declaration_id.to_list(),
            "controlled_at": [earlier.lodged_at.iloc[0] + pd.Timedelta(hours=2)],
            "control_type": ["physical"],
            "selection_basis": ["random"],
            "outcome": ["seizure"],
            "revenue_recovered": [25_000.0],
        }
    )
    after = results.assign(
        control_id="C-live-2", controlled_at=target.lodged_at.max() + pd.Timedelta(hours=1)
    )
    write_table(results, "controls", tmp_path / "before.parquet")
    write_table(after, "controls", tmp_path / "after.parquet")
    runs = {}
    for name in ("none", "before", "after"):
        home = tmp_path / name
        home.mkdir()
        state = ("--state", str(home / "state"))
        options = () if name == "none" else ("--controls", str(tmp_path / f"{name}.parquet"))
        assert _score(bundle, first, home, "first", *state).exit_code == 0
        run = _score(bundle, target, home, "t", *state, *options)
        assert run.exit_code == 0, run.output
        runs[name] = _scores(home, "t")
    mine = (target.importer_id == importer).to_numpy()
    assert (runs["before"] != runs["none"]).any()
    source = bundle_source(read_bundle(bundle).manifest)
    hits = {}
    for name in ("none", "before"):
        live = LiveState.load(tmp_path / name / "state", source, blocks=all_blocks())
        assert live is not None
        col = live.pipeline.get_feature_names_out().tolist().index("importer__hits")
        hits[name] = live.pipeline.transform(target)[:, col]
    np.testing.assert_array_equal(hits["before"] - hits["none"], mine.astype(np.float32))
    pd.testing.assert_series_equal(runs["after"], runs["none"])
