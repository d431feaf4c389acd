"""Reason texts and the explanation page, on a small bundle trained for these tests.

Numbers in the texts are checked against values computed here independently from the
fitted state (valuation snapshots through ``Snapshots.lookup``, the graph registry by
brute force), not through the explanation code.
"""

from __future__ import annotations

import json
import math
import re
import time
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

from features.inputs import inputs_from_records
from features.keys import key_values
from models.reasons import reason_for
from serving.explain.context import build_context
from serving.explain.network import neighbourhood
from serving.explain.page import render_explanation, render_explanation_for
from serving.explain.reasons import explain_rows
from serving.explain.record import make_record
from serving.explain.texts import describe

try:  # tests/serving without __init__.py: pytest put this folder on sys.path
    from test_explain_support import ExplainWorld, world_for
except ImportError:  # tests/serving as a package
    from tests.serving.test_explain_support import ExplainWorld, world_for

KEYS = {"dict", "list"}
REASON_KEYS = {"code", "family", "text", "feature", "value", "baseline", "contribution"}


@pytest.fixture(scope="module")
def ew(request: pytest.FixtureRequest) -> ExplainWorld:
    return world_for(request)


def _block(ew: ExplainWorld, name: str) -> Any:
    return next(b for b in ew.scorer.pipeline.blocks if b.name == name)


# ----- helpers: independent baselines and HTML parsing ---------------------------------
def snapshot_baseline(ew: ExplainWorld, record: dict, name: str, key: str) -> tuple[float, float]:
    """(median of log value, count) of a valuation baseline for one declaration, read from
    the block's snapshots with ``Snapshots.lookup`` (not the explanation's stacked lookup)."""
    val = _block(ew, "valuation")
    inputs = inputs_from_records([record], with_ens=False)
    snap = val.snapshots_[name]
    row = snap.index(inputs.time, val.config.period_days)
    code = val.vocab_[key].codes(key_values(inputs, key))
    med, _, count = snap.lookup(row, code)
    return float(med[0]), float(count[0])


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


def svg_of(page: str, ident: str) -> str:
    match = re.search(rf'<svg[^>]*id="{ident}".*?</svg>', page, re.S)
    assert match, f"no <svg id={ident}>"
    return match.group(0)


def undervalued(ew: ExplainWorld, factor: float = 0.2) -> dict:
    """A late declaration of the most common HS6 x origin, its value set to ``factor`` times
    the HS6 x origin median per kg of its snapshot (a planted undervaluation)."""
    d = ew.declarations
    d = d[d.net_mass_kg > 0]
    pair = (d.hs_code.str[:6] + "|" + d.origin_country).value_counts().index[0]
    rows = d[(d.hs_code.str[:6] + "|" + d.origin_country) == pair].sort_values("lodged_at")
    record = ew.declaration(str(rows.declaration_id.iloc[-1]))
    med, count = snapshot_baseline(ew, record, "uv_kg_hs6_origin", "hs6_origin")
    assert count >= 20
    assert math.isfinite(med)
    record["customs_value_rc"] = factor * math.exp(med) * record["net_mass_kg"]
    record["customs_value"] = record["customs_value_rc"]
    record["supplementary_units"] = None
    return record


def percent_in(text: str, direction: str) -> float:
    match = re.search(rf"(\d+(?:\.\d+)?)% {direction} the median", text)
    assert match, text
    return float(match.group(1))


# ----- reasons ---------------------------------------------------------------------------
def test_reasons_select_what_top_reasons_selects(ew: ExplainWorld) -> None:
    recent = ew.recent(400)
    f, i = ew.frames.get("ens_filings"), ew.frames.get("ens_items")
    batch = ew.scorer.score_frame(recent, f, i)
    rows = explain_rows(ew.scorer, batch, k=3)
    assert len(rows) == len(recent)
    assert [[(r["code"], r["feature"]) for r in row] for row in rows] == [
        [(reason.code, feature) for reason, _, feature in row] for row in batch.reasons
    ]
    for row, expected in zip(rows, batch.reasons, strict=True):
        for r, (_, total, _) in zip(row, expected, strict=True):
            assert set(r) == REASON_KEYS
            assert r["contribution"] == pytest.approx(total, abs=1e-9)
            assert r["contribution"] > 0
    texts = [r for row in rows for r in row]
    specific = [r for r in texts if r["text"] != reason_for(r["feature"]).text]
    assert len(specific) == len(texts), "every reason of real rows gets a specific text"
    assert any(re.search(r"\d", r["text"]) for r in texts)
    json.dumps(rows, allow_nan=False)  # storable as is


def test_planted_undervaluation_reads_its_snapshot_baselines(ew: ExplainWorld) -> None:
    record = undervalued(ew)
    batch = ew.scorer.score_records([record])
    declared = record["customs_value_rc"] / record["net_mass_kg"]
    ctx = build_context(ew.scorer.pipeline, ew.scorer.names, batch.features, batch.inputs)
    checked = 0
    for kind in ("hs6_origin", "hs6", "hs4", "importer_hs6"):
        med, count = snapshot_baseline(ew, record, f"uv_kg_{kind}", kind)
        phrase = describe(f"uv_kg_z__{kind}", ctx, 0)
        assert phrase is not None
        if count < _block(ew, "valuation").config.min_count:
            assert "too few earlier declarations" in phrase.text
            continue
        median = math.exp(med)
        assert phrase.baseline == pytest.approx(median, rel=1e-5)
        assert phrase.value == pytest.approx(declared, rel=1e-9)
        assert f"{round(count):,} declarations" in phrase.text
        change = declared / median - 1
        direction = "below" if change < 0 else "above"
        if abs(change) < 2:
            assert percent_in(phrase.text, direction) == pytest.approx(100 * abs(change), abs=0.51)
        checked += 1
    assert checked >= 2
    # The model's own reasons name the undervaluation, with the numbers of the baseline the
    # strongest feature compares with.
    reasons = explain_rows(ew.scorer, batch, k=20)[0]
    unit = [r for r in reasons if r["code"] == "VAL-UNIT"]
    assert unit, [r["code"] for r in reasons]
    feature, text = unit[0]["feature"], unit[0]["text"]
    kind = feature.removeprefix("uv_kg_z__") if feature.startswith("uv_kg_z__") else "hs6_origin"
    assert feature.startswith("uv_kg_z__") or feature == "log_value_per_kg", feature
    med, count = snapshot_baseline(ew, record, f"uv_kg_{kind}", kind)
    expected = 100 * (1 - math.exp(math.log(declared) - med))
    assert percent_in(text, "below") == pytest.approx(expected, abs=0.51)
    assert unit[0]["baseline"] == pytest.approx(math.exp(med), rel=1e-5)
    shown = re.search(r"\(EUR ([\d,.]+)/kg, ([\d,]+) declarations\)", text)
    assert shown, text
    assert float(shown.group(1).replace(",", "")) == pytest.approx(math.exp(med), rel=0.01)
    assert int(shown.group(2).replace(",", "")) == round(count)
    # the comparison group of the strongest baseline: a heading for hs4, else the HS6 code
    group = (
        "HS heading " + record["hs_code"][:4] if kind == "hs4" else "HS " + record["hs_code"][:6]
    )
    assert group in text


def test_texts_are_worded_for_every_feature_of_a_real_row(ew: ExplainWorld) -> None:
    record = undervalued(ew)
    batch = ew.scorer.score_records([record])
    ctx = build_context(ew.scorer.pipeline, ew.scorer.names, batch.features, batch.inputs)
    missing = [n for n in ew.scorer.names if describe(n, ctx, 0) is None]
    assert missing == []
    texts = [describe(n, ctx, 0).text for n in ew.scorer.names]
    assert not [t for t in texts if "nan" in t.split() or "n/a" in t]


def test_unseen_parties_and_missing_inputs_do_not_crash(ew: ExplainWorld) -> None:
    base = ew.declaration(str(ew.recent(1).declaration_id.iloc[0]))
    unseen = dict(
        base,
        declaration_id="NEW-1",
        importer_id="NEVER-SEEN-IMPORTER",
        declarant_id="NEVER-SEEN-DECLARANT",
        seller_id="NEVER-SEEN-SELLER",
        hs_code="999999",
        origin_country="ZZ",
        ens=None,
        ens_id=None,
    )
    bare = {"declaration_id": "NEW-2", "lodged_at": base["lodged_at"]}
    batch = ew.scorer.score_records([unseen, bare])
    rows = explain_rows(ew.scorer, batch, k=5)
    assert len(rows) == 2
    for row in rows:
        for r in row:
            assert isinstance(r["text"], str)
            assert r["text"]
    json.dumps(rows, allow_nan=False)
    joined = " ".join(r["text"] for r in rows[0])
    assert "nan" not in joined.split()
    # Without inputs nor contributions: generic texts of models.reasons, never a failure.
    batch.inputs, batch.contributions = None, None
    generic = explain_rows(ew.scorer, batch, k=3)
    for row in generic:
        for r in row:
            assert r["text"] == reason_for(r["feature"]).text
    page = render_explanation_for(unseen, ew.scorer)
    assert "NEVER-SEEN-IMPORTER" in svg_of(page, "network")
    assert render_explanation_for(bare, ew.scorer).startswith("<!DOCTYPE html>")


def test_explain_rows_is_fast(ew: ExplainWorld) -> None:
    f, i = ew.frames.get("ens_filings"), ew.frames.get("ens_items")
    batch = ew.scorer.score_frame(ew.recent(1000), f, i)
    one = ew.scorer.score_frame(ew.recent(1), f, i)
    explain_rows(ew.scorer, batch)
    many = min(_timed(lambda: explain_rows(ew.scorer, batch)) for _ in range(3))
    single = min(_timed(lambda: explain_rows(ew.scorer, one)) for _ in range(5))
    assert many < 0.25, f"1,000 rows took {many * 1000:.0f} ms (target ~50 ms)"
    assert single < 0.02, f"one row took {single * 1000:.1f} ms"


def _timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


# ----- page ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def record(ew: ExplainWorld) -> dict:
    """The stored record of the top-scored recent declaration, with injected markup."""
    recent = ew.recent(800)
    scores = ew.scorer.score_frame(
        recent, ew.frames.get("ens_filings"), ew.frames.get("ens_items"), reasons=False
    ).score
    declaration = ew.declaration(str(recent.declaration_id.iloc[int(np.argmax(scores))]))
    declaration["description"] = '<script>alert("x")</script> "><img src=x onerror=alert(1)>'
    declaration["extra_note"] = "see https://evil.example/a.png"
    return make_record(
        declaration,
        ew.scorer,
        {"selected": True, "basis": "risk", "propensity": 0.8, "decision_id": "D-<b>1</b>"},
    )


@pytest.fixture(scope="module")
def page(record: dict, ew: ExplainWorld) -> str:
    return render_explanation(record, ew.scorer)


def test_page_has_no_external_references_nor_script(page: str) -> None:
    tags = parse(page)
    names = {t for t, _ in tags.tags}
    assert not names & {"script", "link", "iframe", "img", "object", "embed"}
    for _, attrs in tags.tags:
        assert not set(attrs) & {"src", "href", "srcset", "action"}, attrs
        assert not any(a.startswith("on") for a in attrs), attrs
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(https?:)?//", page, re.I)
    assert "url(" not in page
    assert "@import" not in page
    assert "<style>" in page
    assert page.count("<svg") >= 2


def test_page_escapes_declaration_fields(page: str) -> None:
    for raw in ("<script>", "<img", "<b>1"):
        assert raw not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "D-&lt;b&gt;1&lt;/b&gt;" in page
    assert "see https://evil.example/a.png" in "".join(parse(page).text)


def test_page_shows_score_decision_reasons_and_baselines(page: str, record: dict) -> None:
    text = " ".join(" ".join(parse(page).text).split())
    assert record["risk_band"] in text.lower()
    assert "Selected" in text
    assert "propensity 80%" in text
    for r in record["reasons"]:
        assert " ".join(r["text"].split()) in text
    assert "Value per kg vs median for HS" in text
    assert "Duty rate vs highest in heading" in text
    assert record["declaration"]["importer_id"] in text


def bars(page: str) -> list[tuple[str, float]]:
    svg = svg_of(page, "waterfall")
    found = re.findall(r'data-kind="(\w+)"[^>]*?data-value="([-0-9.e]+)"', svg)
    return [(kind, float(value)) for kind, value in found]


def test_waterfall_bars_add_up_to_the_tree_log_odds(
    page: str, record: dict, ew: ExplainWorld
) -> None:
    found = bars(page)
    kinds = [k for k, _ in found]
    assert kinds[0] == "base"
    assert kinds[-1] == "final"
    assert 3 <= kinds.count("contribution") <= 11
    base, final = found[0][1], found[-1][1]
    steps = [v for k, v in found if k == "contribution"]
    assert base + sum(steps) == pytest.approx(final, abs=1e-4)
    x = np.array([[record["features"][n] for n in ew.scorer.names]], dtype=np.float64)
    raw = float(ew.scorer.booster.predict(x, raw_score=True)[0])
    assert final == pytest.approx(raw, abs=1e-4)
    assert base == pytest.approx(float(ew.scorer.booster.predict(x, pred_contrib=True)[0, -1]))


def test_record_without_features_or_contributions_is_recomputed(
    record: dict, page: str, ew: ExplainWorld
) -> None:
    bare = {k: v for k, v in record.items() if k not in ("features", "contributions", "reasons")}
    again = render_explanation(bare, ew.scorer)
    assert bars(again)[-1][1] == pytest.approx(bars(page)[-1][1], abs=1e-4)
    assert "Features recomputed from the declaration" in again


def test_network_lists_the_importer_and_its_past_record(
    page: str, record: dict, ew: ExplainWorld
) -> None:
    svg = svg_of(page, "network")
    importer = record["declaration"]["importer_id"]
    match = re.search(
        rf'<g[^>]*data-party="{re.escape(importer)}"[^>]*data-role="[^"]*importer[^"]*"'
        r'[^>]*data-hits="(\d+)"[^>]*data-controls="(\d+)"',
        svg,
    )
    assert match, "importer node missing"
    # Brute force over the registry: results known before the declaration's time.
    graph = _block(ew, "graph")
    reg = graph.registry_
    t = int(inputs_from_records([record["declaration"]], with_ens=True).time[0])
    code = int(reg.vocab.codes(np.array([importer], dtype=object))[0])
    hits = controls = 0
    for row, at, hit in zip(reg.control_row, reg.control_time, reg.control_hit, strict=True):
        if max(at, reg.time[row]) < t and code in set(reg.parties[row].tolist()):
            controls += 1
            hits += int(hit > 0)
    assert (int(match.group(1)), int(match.group(2))) == (hits, controls)


def test_neighbourhood_matches_a_brute_force_walk(record: dict, ew: ExplainWorld) -> None:
    graph = _block(ew, "graph")
    reg = graph.registry_
    decl = record["declaration"]
    t = int(inputs_from_records([decl], with_ens=True).time[0])
    nb = neighbourhood(graph, {"importer": decl["importer_id"]}, t, limit=100_000)
    from graph.schema import PAIRS, ROLE_COLUMN

    code = int(reg.vocab.codes(np.array([decl["importer_id"]], dtype=object))[0])
    expected: dict[int, set[int]] = {}
    for row in np.flatnonzero(reg.time < t):
        parties = reg.parties[row]
        for x, y in PAIRS:
            a, b = int(parties[ROLE_COLUMN[x]]), int(parties[ROLE_COLUMN[y]])
            if a >= 0 and b >= 0 and a != b and code in (a, b):
                expected.setdefault(b if a == code else a, set()).add(int(row))
    shown = {p.party: p.weight for p in nb.parties[1:]}
    assert shown == {str(reg.vocab.values[c]): len(rows) for c, rows in expected.items()}
    small = neighbourhood(graph, {"importer": decl["importer_id"]}, t, limit=5)
    assert len(small.parties) - 1 == min(5, len(expected))
    if len(expected) > 5:
        assert small.hidden[0] == len(expected) - 5


SCRIPT = '<script>alert("x")</script>'


def _inject(value: Any) -> Any:
    """``value`` with ``SCRIPT`` appended to every text in it (dicts and lists walked)."""
    if isinstance(value, str):
        return value + SCRIPT
    if isinstance(value, dict):
        return {k: _inject(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inject(v) for v in value]
    return value


def test_script_in_every_text_field_is_escaped(record: dict, ew: ExplainWorld) -> None:
    declaration = _inject(record["declaration"])
    texts = [k for k, v in declaration.items() if isinstance(v, str)]
    assert {"importer_id", "hs_code", "origin_country", "description"} <= set(texts)
    assert declaration["ens"]["versions"], "the ENS is injected too"
    injected = dict(
        _inject({k: v for k, v in record.items() if k not in ("features", "contributions")}),
        declaration=declaration,
    )
    page = render_explanation(injected, ew.scorer)
    tags = parse(page)
    assert "script" not in {t for t, _ in tags.tags}
    assert "<script" not in page.lower()
    escaped = page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    assert escaped >= len(texts), escaped  # each field shown, escaped, at least once
    assert "".join(tags.text).count(SCRIPT) >= len(texts)  # and reads as the text it was


def test_ens_referenced_but_not_sent_is_not_evidence(record: dict, ew: ExplainWorld) -> None:
    line = "ENS referenced but not sent: ENS features unknown, not evidence"
    declaration = {k: v for k, v in record["declaration"].items() if k != "ens"}
    assert declaration.get("ens_id")
    missing = dict(record, declaration=declaration, reasons=None)
    page = render_explanation(missing, ew.scorer)
    text = " ".join(" ".join(parse(page).text).split())
    assert text.count(line) == 2  # in the baselines table and in the ENS section
    assert "none filed before the declaration" not in text
    # The record's own status wins: looked up by the service, or truly not filed.
    assert line not in render_explanation(dict(missing, ens_status="filed"), ew.scorer)
    assert line not in render_explanation(record, ew.scorer)
    stated = dict(record, decision=dict(record["decision"], ens_status="not_sent"))
    assert line in render_explanation(stated, ew.scorer)
