"""``targeting score --dask``: partitions scored on a 2-worker LocalCluster equal the
single-process scores of the same declarations, bad rows are reported per partition,
and the live state folded across partitions equals one folded at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from canonical.frames import read_dataset, write_table
from canonical.partitions import write_partitions
from features.pipeline import FeaturePipeline
from graph.pipeline_blocks import all_blocks
from models.bundle import read_bundle
from serving.partitioned import IngestedPartition, find_partitions, fold_partitions, read_scores
from targeting.cli import app
from tests.serving.conftest import Trained

pytestmark = pytest.mark.slow


def _renamed(trained: Trained, rows: int) -> dict[str, pd.DataFrame]:
    """The world's last ``rows`` declarations and their ENS under new ids: new facts."""
    f = trained.frames
    d = f["declarations"].tail(rows).copy()
    d["declaration_id"] = "N-" + d["declaration_id"].astype(str)
    d["ens_id"] = ("N-" + d["ens_id"].astype(str)).where(d["ens_id"].notna())
    out = {"declarations": d.reset_index(drop=True)}
    for name in ("ens_filings", "ens_items"):
        t = f[name].copy()
        t["filing_id"] = "N-" + t["filing_id"].astype(str)
        out[name] = t[t["filing_id"].isin(d["ens_id"].dropna())].reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def inputs(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same declarations as one file (with ENS beside) and as daily partitions,
    one row of which is invalid (negative mass)."""
    frames = _renamed(trained, 1500)
    frames["declarations"].loc[700, "net_mass_kg"] = -5.0
    single = tmp_path_factory.mktemp("single")
    for name, frame in frames.items():
        write_table(frame, name, single / f"{name}.parquet")
    parts = tmp_path_factory.mktemp("parts")
    write_partitions(frames, parts, freq="D")
    return single, parts


def _score(args: list[str], trained: Trained) -> str:
    env = {"TARGETING_MLRUNS_DIR": str(trained.mlruns)}
    run = CliRunner().invoke(app, ["score", "--model", str(trained.bundle), *args], env=env)
    assert run.exit_code == 0, run.output
    return run.output


def test_dask_scores_equal_single_process_scores(
    trained: Trained, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    single, parts = inputs
    assert len(find_partitions(parts)) >= 3
    _score(
        [
            "--declarations", str(single / "declarations.parquet"),
            "--ens", str(single / "ens_filings.parquet"),
            "--out", str(tmp_path / "single.parquet"),
            "--state", str(tmp_path / "state-single"),
        ],
        trained,
    )  # fmt: skip
    output = _score(
        [
            "--declarations", str(parts),
            "--out", str(tmp_path / "dask"),
            "--state", str(tmp_path / "state-dask"),
            "--dask", "local", "--dask-workers", "2",
        ],
        trained,
    )  # fmt: skip
    assert "scored 1,499 of 1,500" in output
    a = pd.read_parquet(tmp_path / "single.parquet").set_index("declaration_id")
    b = read_scores(tmp_path / "dask").set_index("declaration_id")
    assert len(b) == len(a) == 1499
    b = b.loc[a.index]
    assert np.max(np.abs(a["score"] - b["score"])) <= 1e-6
    assert np.allclose(a["expected_revenue"], b["expected_revenue"], rtol=1e-5)
    assert (a["risk_band"] == b["risk_band"]).all()
    assert (a["ens_status"] == b["ens_status"]).all()
    assert (a["reason_1"] == b["reason_1"]).all()  # reasons computed on both sides
    assert (a["reason_1"] != "").all()
    rejects = pd.concat(pd.read_csv(p) for p in (tmp_path / "dask").glob("*.rejects.csv"))
    assert rejects["field"].tolist() == ["net_mass_kg"]
    assert "2 workers at" in output


def test_fold_order_of_partitions_does_not_change_the_state(
    trained: Trained, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Partitions folded in reverse lodging order give every row the features of the
    forward fold: the delay-free claim does not hang on the order stage 2 reads them."""
    from canonical.ingest.canonical_source import ingest_canonical
    from features.live import LiveState

    _, parts = inputs
    ingested = []
    for part in find_partitions(parts):
        target = tmp_path / "canonical" / part.name
        ingest_canonical(part.declarations, target, ens=part.ens)
        ingested.append(IngestedPartition(part.name, target, 0, 1, 0, {}, None))
    info = read_bundle(trained.bundle)
    features = []
    for order in (ingested, ingested[::-1]):
        pipeline = FeaturePipeline.load(info.path("features"), blocks=all_blocks())
        live = LiveState.start(pipeline, "test", 0)
        # first_lodged None for all: the given order is the fold order
        fold_partitions(live, order, None)
        tables = [read_dataset(p.canonical) for p in ingested]
        joined = {
            name: pd.concat([t[name] for t in tables], ignore_index=True)
            for name in ("declarations", "ens_filings", "ens_items")
        }
        features.append(
            live.pipeline.transform(
                joined["declarations"], joined["ens_filings"], joined["ens_items"]
            )
        )
    forward, backward = features
    assert forward.shape[0] == 1499
    np.testing.assert_allclose(forward, backward, rtol=1e-5, atol=1e-6)


def test_dask_refuses_what_it_cannot_read(
    trained: Trained, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Clear errors, before any cluster starts: a mapping (partitions are canonical), a
    file where a folder of partitions is expected, a folder without partitions."""
    single, parts = inputs
    env = {"TARGETING_MLRUNS_DIR": str(trained.mlruns)}
    cases = {
        "--mapping": (["--declarations", str(parts), "--mapping", "m.yaml"], "drop --mapping"),
        "file": (["--declarations", str(single / "declarations.parquet")], "folder of Parquet"),
        "empty": (["--declarations", str(tmp_path)], "no partition"),
    }
    for args, message in cases.values():
        run = CliRunner().invoke(
            app, ["score", *args, "--out", str(tmp_path / "o"), "--dask", "local"], env=env
        )
        assert run.exit_code == 2, run.output
        assert message in run.output
