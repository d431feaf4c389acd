"""benchmarks.serving_floor runs on a real bundle and prints every stage (guards the
benchmark against drift in the serving API it calls)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import serving_floor
from training.train import TrainResult


def test_floor_benchmark_times_every_stage(
    world_dir: Path,
    trained: tuple[TrainResult, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["serving_floor", "--bundle", str(trained[0].bundle), "--world", str(world_dir)]
    options = ["--log-dir", str(tmp_path), "--noop-rps", "3000", "--fold-rows", "100"]
    monkeypatch.setattr(sys, "argv", [*argv, *options])
    assert serving_floor.main() == 0
    out = capsys.readouterr().out
    for stage in ("parse + validate", "features", "ONNX scorer", "durable log write"):
        assert stage in out
    assert "KiB per declaration" in out
    assert "stages per request" in out
    assert "fold into live state" in out
    assert "folding 100 declarations at once" in out
    assert "half the empty POST (3,000/s)" in out
