"""FeaturePipeline contract: spec, priors for the unseen, missing inputs, update, state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import FEATURE_CODE_VERSION, FeaturePipeline, NotFittedError
from features.inputs import inputs_from_frames
from tests.features.conftest import Fitted


def test_spec_is_ordered_typed_and_hashed(fitted: Fitted) -> None:
    spec = fitted.pipeline.spec_
    assert list(fitted.pipeline.get_feature_names_out()) == list(spec.names)
    assert fitted.features.shape[1] == len(spec.names)
    assert spec.dtype == "float32"
    assert set(spec.groups) == {"profiles", "valuation", "route", "aeo"}
    assert sum(len(v) for v in spec.groups.values()) == len(spec.names)
    assert len(spec.hash) == 16
    assert spec.dropped == {}


def test_nan_only_where_the_spec_allows(fitted: Fitted) -> None:
    nan_columns = set(fitted.features.columns[fitted.features.isna().any()])
    assert nan_columns <= fitted.pipeline.spec_.nullable
    assert np.isfinite(fitted.features.drop(columns=list(nan_columns)).to_numpy()).all()


def test_unseen_parties_and_codes_get_the_priors(fitted: Fitted) -> None:
    d = fitted.declarations
    row = d.iloc[[len(d) // 2]].copy()
    row["importer_id"] = "XX000000000001"
    row["declarant_id"] = "XX000000000002"
    row["seller_id"] = "NEW-SELLER"
    row["hs_code"] = "99999999"
    row["ens_id"] = None
    x = pd.DataFrame(
        fitted.pipeline.transform(row, fitted.filings, fitted.items),
        columns=fitted.features.columns,
    ).iloc[0]
    assert x["importer__n365d"] == 0
    assert x["importer__days_since_first"] == -1
    assert x["importer__controls"] == 0
    # Unseen codes fall back to their parent's rate, parties to the global rate.
    assert x["hs6__hit_rate"] == pytest.approx(x["hs4__hit_rate"])
    assert x["hs4__hit_rate"] == pytest.approx(x["hs2__hit_rate"])
    assert x["importer__hit_rate"] == pytest.approx(x["seller__hit_rate"])
    assert x["uv_kg_z__hs6"] == 0
    assert x["uv_kg_n__hs6"] == 0
    assert x["ens_present"] == 0
    assert np.isfinite(x.drop(list(fitted.pipeline.spec_.nullable))).all()


def test_records_path_equals_frames_path(fitted: Fitted) -> None:
    d, f, i = fitted.declarations, fitted.filings, fitted.items
    rows = d.iloc[np.linspace(0, len(d) - 1, 12).astype(int)]
    records = []
    for raw in rows.to_dict("records"):
        rec = {k: (None if pd.isna(v) else v) for k, v in raw.items()}
        versions = f[f.filing_id == rec["ens_id"]].to_dict("records")
        items = i[i.filing_id == rec["ens_id"]].to_dict("records")
        clean = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in versions]
        rec["ens"] = {"versions": clean, "items": items}
        records.append(rec)
    np.testing.assert_array_equal(
        fitted.pipeline.transform_records(records), fitted.pipeline.transform(rows, f, i)
    )


def test_filings_without_parties_are_not_duplicates_of_one_another(fitted: Fitted) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    blank = f.filing_id.isin(f.filing_id.drop_duplicates().iloc[::40])
    f = f.copy()
    f.loc[blank, ["consignor_id", "consignee_id", "itinerary", "expected_arrival"]] = None
    pipe = FeaturePipeline().fit(d, c, f, i)
    rows = d[d.ens_id.isin(f.filing_id[blank])]
    assert len(rows) > 50
    duplicates = pipe.get_feature_names_out().tolist().index("duplicates")
    assert pipe.transform(rows, f, i)[:, duplicates].max() == 0
    assert fitted.column("duplicates").max() > 0  # the feature is alive elsewhere


def test_missing_inputs_drop_groups_and_say_so(fitted: Fitted) -> None:
    d = fitted.declarations.drop(columns=["supplementary_units"])
    pipe = FeaturePipeline()
    x = pipe.fit_transform(d, fitted.controls)
    names = set(pipe.spec_.names)
    assert "route:ens" in pipe.spec_.dropped
    assert "valuation:per_unit" in pipe.spec_.dropped
    assert "profiles:carrier" in pipe.spec_.dropped
    assert not {"uv_unit_z__hs6", "ens_present", "carrier__hit_rate"} & names
    assert {"uv_kg_z__hs6", "importer__hit_rate", "mode__air"} <= names
    assert x.shape == (len(d), len(names))


def test_no_controls_at_all_still_works(fitted: Fitted) -> None:
    x = FeaturePipeline().fit_transform(fitted.declarations.iloc[:500])
    assert x.shape[0] == 500


def test_fit_refuses_repeated_or_missing_declaration_ids(fitted: Fitted) -> None:
    d = fitted.declarations.iloc[:300]
    twice = pd.concat([d, d.iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"declaration_id.*1 repeated .* rows \[5, 300\]"):
        FeaturePipeline().fit(twice)
    blank = d.copy()
    blank.loc[blank.index[7], "declaration_id"] = None
    with pytest.raises(ValueError, match=r"declaration_id.*1 missing \(rows \[7\]\)"):
        FeaturePipeline().fit(blank)


def test_transform_before_fit_is_an_error(fitted: Fitted) -> None:
    with pytest.raises(NotFittedError, match="Call fit beforehand"):
        FeaturePipeline().transform(fitted.declarations.iloc[:1])


def test_update_equals_full_refit(fitted: Fitted) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    cut = d.lodged_at.quantile(0.7)
    old_f = f[f.filed_at < cut]
    old_i = i.merge(old_f[["filing_id", "version"]], on=["filing_id", "version"])
    pipe = FeaturePipeline().fit(d[d.lodged_at < cut], c[c.controlled_at < cut], old_f, old_i)
    new_d = d[d.lodged_at >= cut]
    new_f = f[(f.filed_at >= cut) | f.filing_id.isin(new_d.ens_id)]
    new_i = i.merge(new_f[["filing_id", "version"]], on=["filing_id", "version"])
    pipe.update(new_d, c[c.controlled_at >= cut], new_f, new_i)
    probe = d.iloc[np.linspace(0, len(d) - 1, 400).astype(int)]
    np.testing.assert_allclose(
        pipe.transform(probe, f, i), fitted.pipeline.transform(probe, f, i), rtol=1e-6, atol=1e-7
    )
    later = probe.copy()
    later["lodged_at"] = d.lodged_at.max() + pd.Timedelta(days=3)
    np.testing.assert_allclose(
        pipe.transform(later, f, i), fitted.pipeline.transform(later, f, i), rtol=1e-6, atol=1e-7
    )


def test_results_arriving_before_their_declaration_wait_for_it(
    fitted: Fitted, tmp_path: Path
) -> None:
    """The control feed runs ahead of the declaration feed: the early results are kept
    (through save and load) and attributed when their declarations arrive."""
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    cut = d.lodged_at.quantile(0.7)
    old_f = f[f.filed_at < cut]
    old_i = i.merge(old_f[["filing_id", "version"]], on=["filing_id", "version"])
    new_d = d[d.lodged_at >= cut]
    early = c[c.declaration_id.isin(new_d.declaration_id)].iloc[::2]
    assert len(early) > 20
    first = pd.concat([c[c.controlled_at < cut], early])
    FeaturePipeline().fit(d[d.lodged_at < cut], first, old_f, old_i).save(tmp_path / "s")
    pipe = FeaturePipeline.load(tmp_path / "s")
    assert pipe.unmatched_controls_ == len(early)
    new_f = f[(f.filed_at >= cut) | f.filing_id.isin(new_d.ens_id)]
    new_i = i.merge(new_f[["filing_id", "version"]], on=["filing_id", "version"])
    rest = c[(c.controlled_at >= cut) & ~c.control_id.isin(early.control_id)]
    pipe.update(new_d, rest, new_f, new_i)
    assert pipe.unmatched_controls_ == 0
    later = d.iloc[np.linspace(0, len(d) - 1, 300).astype(int)].copy()
    later["lodged_at"] = d.lodged_at.max() + pd.Timedelta(days=3)
    np.testing.assert_allclose(
        pipe.transform(later, f, i), fitted.pipeline.transform(later, f, i), rtol=1e-6, atol=1e-7
    )


def test_an_amendment_in_a_later_update_keeps_the_first_version_content(
    fitted: Fitted,
) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    cut = d.lodged_at.quantile(0.7)
    old = f[f.filed_at < cut]
    first = old.iloc[0]
    amendment = old[old.filing_id == first.filing_id].tail(1).copy()
    amendment["version"] += 1
    amendment["filed_at"] = cut + pd.Timedelta(hours=1)
    amendment["consignee_id"] = "CONSIGNEE-CHANGED"
    everything = pd.concat([f, amendment], ignore_index=True)
    pipe = FeaturePipeline().fit(d[d.lodged_at < cut], c[c.controlled_at < cut], old, i)
    pipe.update(d[d.lodged_at >= cut], c[c.controlled_at >= cut], amendment, i.iloc[:0])
    refit = FeaturePipeline().fit(d, c, everything, i)

    def content(p: FeaturePipeline) -> str:
        route = next(b for b in p.blocks if b.name == "route")
        code = route.filing_content_[route.filing_vocab_.codes(np.array([first.filing_id]))[0]]
        return str(route.vocab_["content"].values[code])

    assert content(pipe) == content(refit)
    assert "CONSIGNEE-CHANGED" not in content(pipe)


def test_update_warns_when_new_declarations_lose_their_ens(
    fitted: Fitted, caplog: pytest.LogCaptureFixture
) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    cut = d.lodged_at.quantile(0.7)
    pipe = FeaturePipeline().fit(d[d.lodged_at < cut], c[c.controlled_at < cut], f, i)
    new_d = d[d.lodged_at >= cut]
    only_new = f[f.filed_at >= cut]
    missing = int((new_d.ens_id.notna() & ~new_d.ens_id.isin(only_new.filing_id)).sum())
    assert missing > 0
    with caplog.at_level("WARNING", logger="features.pipeline"):
        pipe.update(new_d, None, only_new, i)
    assert f"update: {missing} new declarations link to ENS filings not passed" in caplog.text


def test_save_and_load_round_trip(fitted: Fitted, tmp_path: Path) -> None:
    fitted.pipeline.save(tmp_path / "state")
    loaded = FeaturePipeline.load(tmp_path / "state")
    probe = fitted.declarations.iloc[::97]
    np.testing.assert_array_equal(
        loaded.transform(probe, fitted.filings, fitted.items),
        fitted.pipeline.transform(probe, fitted.filings, fitted.items),
    )
    assert loaded.spec_.hash == fitted.pipeline.spec_.hash


def test_load_refuses_a_tampered_spec(fitted: Fitted, tmp_path: Path) -> None:
    fitted.pipeline.save(tmp_path / "state")
    spec = tmp_path / "state" / "feature_spec.json"
    current = f'"code_version": "{FEATURE_CODE_VERSION}"'
    assert current in spec.read_text()
    spec.write_text(spec.read_text().replace(current, '"code_version": "0"'))
    with pytest.raises(ValueError, match="feature spec hash mismatch"):
        FeaturePipeline.load(tmp_path / "state")


def test_window_counts_are_nested(fitted: Fitted) -> None:
    x = fitted.features
    assert (x["importer__n30d"] <= x["importer__n90d"]).all()
    assert (x["importer__n90d"] <= x["importer__n365d"]).all()
    assert ((x["importer__hit_rate"] >= 0) & (x["importer__hit_rate"] <= 1)).all()
    assert (x["importer__hits"] <= x["importer__controls"]).all()


def test_inputs_summarise_only_ens_versions_filed_before_the_declaration(fitted: Fitted) -> None:
    d, f, i = fitted.declarations, fitted.filings, fitted.items
    inputs = inputs_from_frames(d, f, i)
    first = f.groupby("filing_id").filed_at.min()
    linked = d.ens_id.map(first)
    expected = (linked < d.lodged_at).fillna(False).to_numpy()
    np.testing.assert_array_equal(inputs.ens["present"], expected)
