"""OnnxScorer: provider choice and CPU fallback, inputs, small-batch split, light imports."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from models.runtime import CPU, CUDA, OnnxScorer
from tests.models.onnx_world import bundle, world


def _cuda_works() -> bool:
    return OnnxScorer(bundle("isotonic")["trees_gpu"], device="auto").provider == CUDA


@pytest.fixture
def no_cuda() -> None:
    if _cuda_works():
        pytest.skip("CUDA is in use here: the fallback cannot be seen")


@pytest.mark.usefixtures("no_cuda")
def test_auto_falls_back_to_cpu_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="models.runtime"):
        scorer = OnnxScorer(bundle("isotonic")["scorer_gpu"])
    assert scorer.provider == CPU
    records = [r for r in caplog.records if r.name == "models.runtime"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "CUDA unavailable" in records[0].getMessage()
    assert "on CPU" in records[0].getMessage()


@pytest.mark.usefixtures("no_cuda")
@pytest.mark.parametrize("kwargs", [{"require_gpu": True}, {"device": "cuda"}])
def test_gpu_demanded_but_absent_raises(kwargs: dict) -> None:
    with pytest.raises(RuntimeError, match="CUDA is required"):
        OnnxScorer(bundle("isotonic")["scorer_gpu"], **kwargs)


def test_cpu_device_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="models.runtime"):
        scorer = OnnxScorer(bundle("isotonic")["trees_cpu"], device="cpu", intra_op_threads=2)
    assert scorer.provider == CPU
    assert not [r for r in caplog.records if r.name == "models.runtime"]
    assert scorer.input_names == ["features"]


def test_bad_arguments_are_refused() -> None:
    path = bundle("isotonic")["scorer_cpu"]
    with pytest.raises(ValueError, match="device must be one of"):
        OnnxScorer(path, device="tpu")
    with pytest.raises(ValueError, match="contradicts"):
        OnnxScorer(path, device="cpu", require_gpu=True)
    scorer = OnnxScorer(path, device="cpu")
    w = world()
    with pytest.raises(ValueError, match="12 columns"):
        scorer.run(w.rows_finite[:3, :5], w.codes[:3])
    with pytest.raises(ValueError, match="needs inputs"):
        scorer.run(w.rows_finite[:3])
    with pytest.raises(ValueError, match="also needs codes"):
        scorer.run_trees(w.rows_finite[:3])


@pytest.mark.parametrize("n", [1, 11, 12, 16, 37, 50, 51, 300])
def test_split_batches_equal_one_run(n: int) -> None:
    w = world()
    scorer = OnnxScorer(bundle("isotonic")["scorer_cpu"], device="cpu", intra_op_threads=3)
    features, codes = w.rows_finite[:n], w.codes[:n]
    out = scorer.run(features, codes)
    whole = scorer.session.run(scorer.output_names, {"features": features, "codes": codes})
    for name, expected in zip(scorer.output_names, whole, strict=True):
        np.testing.assert_array_equal(out[name], expected)
        assert out[name].shape[0] == n


def test_trees_run_and_casts() -> None:
    w = world()
    scorer = OnnxScorer(bundle("isotonic")["trees_cpu"], device="cpu")
    p = scorer.run_trees(w.rows[:100].astype(np.float64))  # cast to float32 inside
    np.testing.assert_allclose(p, w.booster.predict(w.rows[:100]), atol=1e-5)


def test_runtime_imports_no_training_libraries() -> None:
    code = (
        "import sys, models.runtime; "
        "print(sorted(m for m in ('torch', 'lightgbm', 'onnxmltools', 'sklearn') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.gpu
def test_gpu_scores_equal_cpu_scores() -> None:
    paths = bundle("isotonic")
    gpu = OnnxScorer(paths["scorer_gpu"], device="auto")
    if gpu.provider != CUDA:
        pytest.skip("CUDA is not in use on this machine")
    w = world()
    cpu = OnnxScorer(paths["scorer_cpu"], device="cpu")
    got = gpu.run(w.rows_finite, w.codes)
    want = cpu.run(w.rows_finite, w.codes)
    for name in ("p_trees", "p_network", "score", "risk_probs"):
        np.testing.assert_allclose(got[name], want[name], atol=1e-5 if name == "p_trees" else 1e-4)
