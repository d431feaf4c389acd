"""Property tests over small random worlds (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import FeaturePipeline
from synth import WorldConfig, generate_world

worlds = st.builds(
    WorldConfig,
    seed=st.integers(0, 10_000),
    days=st.integers(7, 30),
    declarations_per_day=st.integers(10, 60),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=worlds, cut_share=st.floats(0.2, 0.9))
def test_history_truncated_at_any_time_gives_the_same_earlier_features(
    config: WorldConfig, cut_share: float
) -> None:
    world = generate_world(config)
    d, c = world.frame("declarations"), world.frame("controls")
    f, i = world.frame("ens_filings"), world.frame("ens_items")
    full = FeaturePipeline().fit_transform(d, c, f, i)
    cut = d.lodged_at.quantile(cut_share)
    past = (d.lodged_at < cut).to_numpy()
    past_f = f[f.filed_at < cut]
    past_i = i.merge(past_f[["filing_id", "version"]], on=["filing_id", "version"])
    truncated = FeaturePipeline().fit(d[past], c[c.controlled_at < cut], past_f, past_i)
    np.testing.assert_allclose(truncated.transform(d[past], f, i), full[past], rtol=1e-5, atol=1e-6)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=worlds)
def test_features_are_finite_bounded_and_nested(config: WorldConfig) -> None:
    world = generate_world(config)
    pipe = FeaturePipeline()
    x = pd.DataFrame(
        pipe.fit_transform(
            world.frame("declarations"),
            world.frame("controls"),
            world.frame("ens_filings"),
            world.frame("ens_items"),
        ),
        columns=pipe.get_feature_names_out(),
    )
    strict = x.drop(columns=list(pipe.spec_.nullable & set(x.columns)))
    assert np.isfinite(strict.to_numpy()).all()
    rates = [c for c in x.columns if c.endswith("__hit_rate")]
    assert ((x[rates] >= 0) & (x[rates] <= 1)).all().all()
    for key in ("importer", "declarant", "seller"):
        assert (x[f"{key}__n30d"] <= x[f"{key}__n365d"]).all()
        assert (x[f"{key}__hits"] <= x[f"{key}__controls"]).all()
