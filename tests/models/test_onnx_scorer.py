"""The exported network and the single-graph scorers against torch, LightGBM and numpy."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from models.blend import Calibrator
from models.export import reference_scores
from models.onnx_blend import blend_graph, calibrate
from models.onnx_graphs import DOUBLE, FLOAT, GraphBuilder, make_model, tensor_input
from models.train_network import predict_network
from tests.models.onnx_world import SMEARING, bundle, world

CPU = ["CPUExecutionProvider"]
OUTPUTS = ["score", "p_trees", "p_network", "expected_revenue", "risk_probs"]


def _session(path: object) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=CPU)


def _outputs(session: ort.InferenceSession, feed: dict) -> dict[str, np.ndarray]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed), strict=True))


def test_files_and_graphs() -> None:
    paths = bundle("isotonic")
    assert set(paths) == {"trees_cpu", "trees_gpu", "network", "scorer_cpu", "scorer_gpu"}
    for name, path in paths.items():
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        domains = {n.domain for n in model.graph.node}
        assert ("ai.onnx.ml" in domains) == name.endswith("_cpu"), name
        assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 17
    scorer = _session(paths["scorer_gpu"])
    assert [i.name for i in scorer.get_inputs()] == ["features", "codes"]
    assert [i.type for i in scorer.get_inputs()] == ["tensor(float)", "tensor(int64)"]
    assert [o.name for o in scorer.get_outputs()] == OUTPUTS
    assert all(o.type == "tensor(float)" for o in scorer.get_outputs())


def test_network_matches_torch() -> None:
    w = world()
    session = _session(bundle("isotonic")["network"])
    reference = predict_network(w.net, w.rows_finite, w.codes)
    for rows in (slice(0, 1), slice(0, 10_000)):  # dynamic batch
        out = _outputs(session, {"features": w.rows_finite[rows], "codes": w.codes[rows]})
        np.testing.assert_allclose(out["p_network"], reference["p"][rows], atol=1e-4)
        np.testing.assert_allclose(
            out["log_revenue"], reference["log_revenue"][rows], rtol=1e-6, atol=1e-4
        )
        np.testing.assert_allclose(out["risk_probs"], reference["risk"][rows], atol=1e-4)


@pytest.mark.parametrize("kind", ["isotonic", "platt"])
@pytest.mark.parametrize("device", ["cpu", "gpu"])
def test_scorer_matches_reference(kind: str, device: str) -> None:
    w = world()
    blend = w.blends[kind]
    session = _session(bundle(kind)[f"scorer_{device}"])
    out = _outputs(session, {"features": w.rows_finite, "codes": w.codes})
    ref = reference_scores(w.booster, w.net, blend, w.rows_finite, w.codes)
    assert all(v.dtype == np.float32 for v in out.values())
    np.testing.assert_allclose(out["p_trees"], ref["p_trees"], atol=1e-5)
    np.testing.assert_allclose(out["p_network"], ref["p_network"], atol=1e-4)
    np.testing.assert_allclose(out["score"], ref["score"], atol=1e-4)
    # score * max(exp(log_revenue) * smearing - 1, 0): the graph's own score, torch's revenue
    log_revenue = predict_network(w.net, w.rows_finite, w.codes)["log_revenue"]
    revenue = blend.revenue_given_hit(log_revenue)
    own_revenue = out["score"] * np.maximum(np.exp(log_revenue.astype(float)) * SMEARING - 1, 0)
    np.testing.assert_allclose(out["expected_revenue"], own_revenue, rtol=1e-4, atol=1e-6)
    # and the reference within 1e-4 in score units (the error of the score, times revenue)
    slack = 1e-4 * np.maximum(np.abs(revenue), 1.0)
    assert (np.abs(out["expected_revenue"] - ref["expected_revenue"]) <= slack).all()
    np.testing.assert_allclose(out["risk_probs"], ref["risk_probs"], atol=1e-4)
    # the blend and calibration inside the graph are numpy's own, to float32 rounding
    own = blend.score(out["p_trees"].astype(np.float64), out["p_network"].astype(np.float64))
    np.testing.assert_allclose(out["score"], own, rtol=1e-6, atol=1e-7)


def _calibrated(calibrator: Calibrator, raw: np.ndarray) -> np.ndarray:
    b = GraphBuilder("cal")
    b.op("Identity", calibrate(b, "raw", calibrator), out="score")
    model = make_model(
        b.nodes,
        b.initializers,
        [tensor_input("raw", DOUBLE)],
        [tensor_input("score", DOUBLE)],
        "calibration",
    )
    return _session_bytes(model).run(None, {"raw": raw})[0]


def _session_bytes(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=CPU)


@pytest.mark.parametrize(
    "points",
    [
        ((0.2,), (0.3,)),
        ((0.1, 0.4), (0.0, 1.0)),
        ((0.0, 0.1, 0.1, 0.35, 0.5, 0.9, 1.0), (0.0, 0.05, 0.2, 0.2, 0.6, 0.7, 1.0)),
        (tuple(np.linspace(0.01, 0.99, 37)), tuple(np.sort(np.random.default_rng(0).random(37)))),
    ],
)
def test_isotonic_is_np_interp(points: tuple) -> None:
    xp, fp = points
    calibrator = Calibrator("isotonic", xp, fp)
    raw = np.concatenate(
        [
            np.random.default_rng(1).random(2000),
            xp,
            [-0.5, 0.0, 1.0, 1.5],
            np.nextafter(np.asarray(xp), 2),
            np.nextafter(np.asarray(xp), -1),
        ]
    )
    np.testing.assert_allclose(
        _calibrated(calibrator, raw), calibrator.apply(raw), rtol=0, atol=1e-15
    )


def test_platt_is_numpy() -> None:
    calibrator = Calibrator("platt", a=1.7, b=-0.4)
    raw = np.concatenate([np.random.default_rng(2).random(1000), [0.0, 1e-9, 1.0, 1 - 1e-9]])
    np.testing.assert_allclose(_calibrated(calibrator, raw), calibrator.apply(raw), rtol=1e-13)


def test_unsorted_isotonic_is_refused() -> None:
    with pytest.raises(ValueError, match="x ascending"):
        _calibrated(Calibrator("isotonic", (0.5, 0.1), (0.0, 1.0)), np.zeros(1))


@pytest.mark.parametrize("kind", ["isotonic", "platt"])
def test_blend_graph_is_numpy(kind: str) -> None:
    """Blend, calibration and score * max(exp(log_revenue) * smearing - 1, 0), chosen inputs."""
    rng = np.random.default_rng(4)
    n = 5000
    p_trees, p_net = rng.random(n).astype(np.float32), rng.random(n).astype(np.float32)
    log_revenue = rng.normal(0, 5, n).astype(np.float32)  # half of them negative
    b = GraphBuilder("blend")
    score, expected = blend_graph(b, "p_trees", "p_network", "log_revenue", world().blends[kind])
    b.op("Identity", score, out="score")
    b.op("Identity", expected, out="expected_revenue")
    inputs = [tensor_input(name, FLOAT) for name in ("p_trees", "p_network", "log_revenue")]
    outputs = [tensor_input(name, FLOAT) for name in ("score", "expected_revenue")]
    model = make_model(b.nodes, b.initializers, inputs, outputs, "blend")
    got_score, got_revenue = _session_bytes(model).run(
        None, {"p_trees": p_trees, "p_network": p_net, "log_revenue": log_revenue}
    )
    want = world().blends[kind].score(p_trees.astype(float), p_net.astype(float))
    np.testing.assert_allclose(got_score, want, rtol=1e-6, atol=1e-7)
    smeared = np.exp(log_revenue.astype(float)) * SMEARING
    want_revenue = want * np.maximum(smeared - 1.0, 0.0)
    np.testing.assert_allclose(got_revenue, want_revenue, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        got_revenue, world().blends[kind].expected_revenue(want, log_revenue), rtol=1e-6, atol=1e-7
    )
    assert (got_revenue[smeared < 1] == 0).all()
    assert (got_revenue[(smeared > 1.01) & (want > 1e-6)] > 0).all()
