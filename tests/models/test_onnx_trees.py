"""Parity of the ONNX tree graphs with native LightGBM (CPU TreeEnsemble and tensor traversal)."""

from __future__ import annotations

from collections import Counter

import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from models.tree_dump import ZERO_THRESHOLD, exact_threshold, floor32, forest_from_booster
from models.tree_ensemble import convert_booster
from models.tree_tensors import compile_booster
from tests.models.onnx_world import N_FEATURES, thresholds, world

CPU = ["CPUExecutionProvider"]


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=CPU)
    return session.run(None, {"features": x})


def _booster(name: str) -> lgb.Booster:
    return getattr(world(), name)


def _missing_types(booster: lgb.Booster) -> Counter:
    found: Counter = Counter()

    def walk(node: dict) -> None:
        if "split_feature" in node:
            found[(node["missing_type"], node["default_left"])] += 1
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return found


def test_models_and_rows_cover_the_hard_cases() -> None:
    w = world()
    plain, zero = _missing_types(w.booster), _missing_types(w.booster_zero)
    assert {("None", True), ("NaN", True), ("NaN", False)} <= set(plain)
    assert {("Zero", True), ("Zero", False)} <= set(zero)
    # float32 values strictly above a double threshold that rounds to them
    t = np.asarray(thresholds(w.booster)[2])
    above = t.astype(np.float32).astype(np.float64) > t
    assert above.sum() > 5
    assert np.isin(w.rows[:, 2], t[above].astype(np.float32)).sum() > 100
    assert np.isnan(w.rows).any(axis=0).all()  # NaN in every feature, also None-type ones


@pytest.mark.parametrize("name", ["booster", "booster_zero"])
def test_tables_reproduce_lightgbm(name: str) -> None:
    booster, x = _booster(name), world().rows
    margin = forest_from_booster(booster).predict_margin(x)
    np.testing.assert_allclose(margin, booster.predict(x, raw_score=True), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["booster", "booster_zero"])
def test_trees_cpu_matches_lightgbm(name: str) -> None:
    booster, x = _booster(name), world().rows
    model = convert_booster(booster, N_FEATURES)
    assert any(n.op_type == "TreeEnsembleRegressor" for n in model.graph.node)
    p, margin = _run(model, x)
    assert p.dtype == np.float32
    assert p.shape == (len(x),)
    np.testing.assert_allclose(p, booster.predict(x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(margin, booster.predict(x, raw_score=True), rtol=1e-6, atol=1e-5)


def test_all_positive_leaves_still_get_the_sigmoid() -> None:
    """ORT's binary TreeEnsembleClassifier would return the raw sum here."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3)).astype(np.float32)
    y = (rng.random(2000) < 0.9).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbose": -1}, lgb.Dataset(x, y), 1
    )
    forest = forest_from_booster(booster)
    assert (forest.value[forest.is_leaf] > 0).all()
    np.testing.assert_allclose(
        _run(convert_booster(booster, 3), x)[0], booster.predict(x), atol=1e-6
    )


@pytest.mark.parametrize("name", ["booster", "booster_zero"])
@pytest.mark.parametrize("accumulate", ["float64", "float32"])
def test_trees_gpu_matches_lightgbm(name: str, accumulate: str) -> None:
    booster, x = _booster(name), world().rows
    model = compile_booster(booster, N_FEATURES, accumulate=accumulate)
    assert {n.domain for n in model.graph.node} == {""}  # no CPU-only ai.onnx.ml ops
    p, margin = _run(model, x)
    np.testing.assert_allclose(p, booster.predict(x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(margin, booster.predict(x, raw_score=True), rtol=1e-6, atol=1e-5)


def test_plain_onnxmltools_conversion_would_fail_these_rows() -> None:
    """The parity tests can fail: onnxmltools' own conversion misses on these rows."""
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    w = world()
    model = onnxmltools.convert_lightgbm(
        w.booster,
        initial_types=[("features", FloatTensorType([None, N_FEATURES]))],
        zipmap=False,
        target_opset=15,
    )
    _, probabilities = _run(model, w.rows)
    assert np.abs(probabilities[:, 1] - w.booster.predict(w.rows)).max() > 1e-3


def test_stump_only_model_is_constant() -> None:
    x = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    y = np.arange(200) % 2
    booster = lgb.train(
        {"objective": "binary", "min_data_in_leaf": 1000, "verbose": -1}, lgb.Dataset(x, y), 3
    )
    assert forest_from_booster(booster).depth == 0
    expected = booster.predict(x)
    np.testing.assert_allclose(_run(compile_booster(booster, 3), x)[0], expected, atol=1e-6)
    np.testing.assert_allclose(_run(convert_booster(booster, 3), x)[0], expected, atol=1e-6)


def _tiny(params: dict, categorical: list[int] | None = None) -> lgb.Booster:
    rng = np.random.default_rng(0)
    x = np.c_[rng.integers(0, 8, 400), rng.normal(size=400)].astype(np.float32)
    y = x[:, 0].astype(int) % 3 if params["objective"] == "multiclass" else x[:, 0] % 2
    data = lgb.Dataset(x, y, categorical_feature=categorical or "auto")
    return lgb.train({"verbose": -1, "min_data_in_leaf": 5, **params}, data, 3)


def test_categorical_split_is_refused() -> None:
    booster = _tiny({"objective": "binary", "min_data_per_group": 5, "cat_smooth": 1}, [0])
    with pytest.raises(ValueError, match="categorical split"):
        compile_booster(booster, 2)
    with pytest.raises(ValueError, match="encode categories numerically"):
        convert_booster(booster, 2)


@pytest.mark.parametrize(
    "params", [{"objective": "multiclass", "num_class": 3}, {"objective": "regression"}]
)
def test_non_binary_objective_is_refused(params: dict) -> None:
    with pytest.raises(ValueError, match="only binary LightGBM models"):
        compile_booster(_tiny(params), 2)


def test_too_few_features_is_refused() -> None:
    with pytest.raises(ValueError, match="reads 12 features"):
        compile_booster(world().booster, 5)


def test_float32_threshold_rules() -> None:
    rng = np.random.default_rng(1)
    t = np.concatenate(
        [
            rng.normal(size=500) * 10.0 ** rng.integers(-40, 30, 500),
            [0.0, 1e-35, -1e-35, 1.0000000180025095e-35, 1e300, -1e300],
        ]
    )
    for value in t:
        u = floor32(value)
        # Above float32's largest value (1e300), the next float32 up is inf: an overflow that
        # is the point of the case, not an accident.
        with np.errstate(over="ignore"):
            up = np.nextafter(u, np.float32(np.inf))
        assert float(u) <= value < float(up)
        e = exact_threshold(value)
        x = np.array(
            [
                u,
                np.nextafter(u, np.float32(-np.inf)),
                up,
                ZERO_THRESHOLD,
                -ZERO_THRESHOLD,
                np.float32(1e-36),
                np.float32(-1e-36),
                np.float32(0.0),
                np.float32(-0.0),
            ],
            dtype=np.float32,
        )
        zeroed = np.where(np.abs(x) <= ZERO_THRESHOLD, 0.0, x.astype(np.float64))
        np.testing.assert_array_equal(x <= e, zeroed <= value)
