"""GraphBlock contract: names, priors for the unseen, no NaN, state, backend, lookups only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.blocks import FeatureBlock
from graph import GraphBlock, GraphConfig, algorithms, snapshot
from graph.algorithms import installed_backends
from graph.schema import FEATURES
from tests.graph.conftest import Case, events, fit


def test_block_follows_the_protocol_and_names_its_features(case: Case) -> None:
    block = case.block
    assert isinstance(block, FeatureBlock)
    names = block.feature_names()
    assert len(names) == len(set(names)) == 4 * len(FEATURES)
    assert "graph__importer__ppr" in names
    assert "graph__carrier__degree" in names
    assert case.features.shape == (case.inputs.n, len(names))
    assert case.features.dtype == np.float32
    assert block.nullable() == set()
    assert block.dropped() == {}
    assert block.with_ens_


def test_no_nan_and_values_in_range(case: Case) -> None:
    x = case.features
    assert np.isfinite(x).all()
    for role in ("importer", "declarant", "seller", "carrier"):
        for rate in ("hit_rate_1hop", "hit_rate_2hop", "component_hit_rate", "community_hit_rate"):
            values = case.column(f"graph__{role}__{rate}")
            assert ((values >= 0) & (values <= 1)).all(), (role, rate)
        distance = case.column(f"graph__{role}__offender_distance")
        assert set(np.unique(distance)) <= set(range(6))
    late = (case.declarations.lodged_at > case.declarations.lodged_at.median()).to_numpy()
    assert (case.column("graph__declarant__degree")[late] > 0).mean() > 0.9


def test_without_ens_the_carrier_group_is_dropped_and_said(case: Case) -> None:
    block = fit(case.declarations, case.controls, None, None)
    assert not block.with_ens_
    assert "graph:ens" in block.dropped()
    assert len(block.feature_names()) == 3 * len(FEATURES)
    assert not any("carrier" in n for n in block.feature_names())
    x = block.transform(case.inputs)  # inputs with ENS: the carrier is simply not read
    assert x.shape == (case.inputs.n, 3 * len(FEATURES))
    assert np.isfinite(x).all()


def test_unseen_parties_get_the_priors(case: Case) -> None:
    rows = np.flatnonzero(case.declarations.lodged_at > case.declarations.lodged_at.quantile(0.8))
    probe = case.inputs.take(rows[:5])
    probe.text["importer_id"] = np.array(["XX-NEW-1", None, "XX-NEW-2", "XX-NEW-3", "XX"], object)
    probe.text["seller_id"] = np.full(5, "NEW-SELLER", dtype=object)
    x = case.block.transform(probe)
    names = case.block.feature_names()
    col = {n: x[:, names.index(n)] for n in names}
    assert np.isfinite(x).all()
    for role in ("importer", "seller"):
        assert (col[f"graph__{role}__degree"] == 0).all()
        assert (col[f"graph__{role}__weighted_degree"] == 0).all()
        assert (col[f"graph__{role}__ppr"] == 0).all()
        assert (col[f"graph__{role}__community_size"] == 0).all()
        assert (col[f"graph__{role}__offender_distance"] == 5).all()
        prior = col[f"graph__{role}__hit_rate_1hop"]
        assert prior.min() > 0
        for rate in ("hit_rate_2hop", "component_hit_rate", "community_hit_rate"):
            np.testing.assert_array_equal(col[f"graph__{role}__{rate}"], prior)
    # The prior is the global hit rate as of the row's snapshot, known parties differ.
    assert (col["graph__declarant__degree"] > 0).all()


def test_rows_before_any_fact_get_the_empty_world(case: Case) -> None:
    probe = case.inputs.take(np.arange(3))
    probe.time = probe.time - 400 * 86_400
    x = case.block.transform(probe)
    names = case.block.feature_names()
    assert (x[:, names.index("graph__importer__degree")] == 0).all()
    assert (x[:, names.index("graph__importer__hit_rate_1hop")] == 0).all()
    assert (x[:, names.index("graph__importer__offender_distance")] == 5).all()


def test_one_row_at_a_time_equals_the_batch(case: Case) -> None:
    rows = np.linspace(0, case.inputs.n - 1, 20).astype(int)
    batch = case.block.transform(case.inputs.take(rows))
    np.testing.assert_array_equal(batch, case.features[rows])
    for k, row in enumerate(rows):
        np.testing.assert_array_equal(
            case.block.transform(case.inputs.take(np.array([row])))[0], batch[k]
        )


def test_transform_does_no_graph_work(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("graph work at transform time")

    monkeypatch.setattr(snapshot, "structure", refuse)
    monkeypatch.setattr(algorithms.nx, "pagerank", refuse)
    monkeypatch.setattr(algorithms.Algorithms, "communities", refuse)
    x = case.block.transform(case.inputs.take(np.arange(50)))
    np.testing.assert_array_equal(x, case.features[:50])


def test_state_round_trip_without_pickle(case: Case, tmp_path) -> None:
    state = case.block.get_state()
    plain = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    json.dumps(plain)
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    arrays["parties"] = arrays["parties"].astype(str)
    assert all(a.dtype != object for a in arrays.values())
    np.savez(tmp_path / "graph.npz", **arrays)
    with np.load(tmp_path / "graph.npz", allow_pickle=False) as saved:
        restored = {k: saved[k] for k in saved.files} | plain
    block = GraphBlock(GraphConfig(period_days=7))  # the saved config wins
    block.set_state(restored)
    assert block.config == case.block.config
    assert block.feature_names() == case.block.feature_names()
    np.testing.assert_array_equal(block.transform(case.inputs), case.features)


def test_not_fitted_says_so() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        GraphBlock().transform(None)  # type: ignore[arg-type]


def test_config_rejects_unknown_backends_and_bad_values() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        GraphConfig(backend="gpu")
    with pytest.raises(ValueError, match="pagerank_alpha"):
        GraphConfig(pagerank_alpha=1.0)
    config = GraphConfig(max_distance=3)
    assert GraphConfig.from_dict(config.to_dict()) == config


@pytest.mark.skipif("cugraph" in installed_backends(), reason="nx-cugraph is installed")
def test_cugraph_backend_without_nx_cugraph_fails_at_fit(case: Case) -> None:
    block = GraphBlock(GraphConfig(backend="cugraph"))
    with pytest.raises(ImportError, match=r"nx-cugraph.*backend='networkx'"):
        block.fit(case.inputs, events(case.controls, case.declarations.declaration_id), None)


@pytest.mark.gpu
@pytest.mark.skipif("cugraph" not in installed_backends(), reason="needs nx-cugraph and CUDA")
def test_cugraph_backend_gives_the_same_local_features(case: Case) -> None:
    gpu = GraphConfig(backend="cugraph")
    block = fit(case.declarations, case.controls, case.filings, case.items, gpu)
    x = block.transform(case.inputs)
    names = block.feature_names()
    same = [i for i, n in enumerate(names) if n.rsplit("__", 1)[1] in {"degree", "hit_rate_1hop"}]
    np.testing.assert_array_equal(x[:, same], case.features[:, same])
    assert np.isfinite(x).all()
