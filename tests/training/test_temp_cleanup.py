"""A training run without a work directory leaves nothing in the temp directory (issue 14:
every run left ~68 MB in /tmp/targeting-train-*), and its result points at the logged bundle."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from models.bundle import read_bundle
from models.lgbm import TreeConfig
from models.train_network import NetworkConfig
from synth import WorldConfig, generate_world
from training.train import TrainConfig, train

TINY = TrainConfig(
    tree=TreeConfig(max_rounds=40, threads=1),
    network=NetworkConfig(epochs=1, patience=1),
    select_groups=False,
)


def test_train_leaves_no_temp_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches its first answer
    world = generate_world(WorldConfig(seed=5, days=60, declarations_per_day=300))
    frames = {name: world.frame(name) for name in world.tables}
    result = train(frames, tmp_path / "mlruns", TINY)
    # torch's exporter makes its compiler cache (torchinductor_<user>) there unless told
    assert [p.name for p in temp.iterdir()] == []
    assert result.bundle.is_relative_to(tmp_path / "mlruns")
    assert read_bundle(result.bundle).manifest["model_name"] == "targeting"
    assert result.evaluated_trees.is_file()
