"""Selection: a rolling threshold keeps the model arm at its rate; the random arm draws
every declaration (AEO included) with a known, recorded probability."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.selection import Policy, RandomArm, Selector, warmup_threshold
from tests.serving.conftest import RISK, headers, make_settings


def _selector(rate=0.05, share=0.1, window=2000, warmup=200, start=0.5, seed=0) -> Selector:
    return Selector(Policy(rate, share, window, warmup), start, RandomArm(_key(seed)))


def _key(seed: int) -> bytes:
    return f"test-key-{seed:08d}".encode()


def _decide(sel: Selector, scores: np.ndarray, prefix: str = "D") -> list:
    """Decisions on declarations with distinct ids (``prefix`` + position)."""
    return sel.decide(scores, [f"{prefix}{i}" for i in range(len(scores))])


def test_model_arm_keeps_its_rate_under_drift() -> None:
    rng = np.random.default_rng(1)
    sel = _selector(share=0.0)
    first = _decide(sel, rng.beta(1, 20, 20_000), "A")
    shifted = _decide(sel, rng.beta(2, 5, 20_000), "B")  # the score scale moves up a lot
    for decisions in (first[2000:], shifted[4000:]):
        rate = np.mean([d.selected for d in decisions])
        assert rate == pytest.approx(0.05, abs=0.006)
        assert {d.basis for d in decisions} <= {"model", "none"}


def test_warmup_uses_the_bundle_threshold_then_recent_scores() -> None:
    sel = _selector(start=0.9, warmup=100, window=100)
    decisions = _decide(sel, np.linspace(0, 1, 100))
    assert all(d.threshold == 0.9 for d in decisions)
    assert sel.warm
    assert sel.threshold == pytest.approx(np.linspace(0, 1, 100)[94], abs=1e-12)  # 5 above


def test_random_arm_probability_and_propensities() -> None:
    rng = np.random.default_rng(2)
    sel = _selector(rate=0.1, share=0.3)
    p = 0.1 * 0.3
    decisions = _decide(sel, rng.random(60_000))[2000:]
    random = [d for d in decisions if d.basis == "random"]
    below = [d for d in decisions if d.basis != "model"]
    assert len(random) / len(below) == pytest.approx(p, rel=0.1)
    assert all(d.propensity == 1.0 for d in decisions if d.basis == "model")
    assert all(d.propensity == pytest.approx(p) for d in below)
    assert all(d.random_probability == pytest.approx(p) for d in decisions)
    total = np.mean([d.selected for d in decisions])
    model_rate = 0.1 * 0.7
    assert total == pytest.approx(model_rate + p * (1 - model_rate), abs=0.005)


def test_no_declaration_is_beyond_the_random_arm() -> None:
    """Even declarations the model never picks (score 0, like most AEO traffic) are drawn."""
    sel = _selector(rate=0.1, share=0.5, start=0.5, warmup=10, window=10)
    decisions = _decide(sel, np.zeros(20_000))
    picked = [d for d in decisions if d.selected and d.basis == "random"]
    assert len(picked) / 20_000 == pytest.approx(0.05, rel=0.15)


def test_a_declaration_sent_again_gets_the_same_draw() -> None:
    """Retries and duplicates do not redraw: the recorded propensity p stays the
    declaration's probability of being picked by the random arm."""
    sel = _selector(rate=0.2, share=1.0, warmup=10, window=10)  # random arm only, p = 0.2
    ids = [f"D{i}" for i in range(2000)]
    first = [d.selected for d in sel.decide(np.zeros(2000), ids)]
    again = [d.selected for d in sel.decide(np.zeros(2000), ids)]
    assert first == again
    assert np.mean(first) == pytest.approx(0.2, abs=0.03)
    other_key = Selector(sel.policy, 0.5, RandomArm(_key(1)))
    assert [d.selected for d in other_key.decide(np.zeros(2000), ids)] != first


def test_a_model_rate_that_keeps_no_score_selects_nothing() -> None:
    """0.0004 of a 500-score window rounds to no score: the arm selects none, not one
    per window (which would be 5x the budget)."""
    sel = _selector(rate=0.0008, share=0.5, warmup=500, window=500, start=0.5)
    decisions = _decide(sel, np.random.default_rng(3).random(20_000))[500:]
    assert not any(d.basis == "model" for d in decisions)
    assert sel.threshold == float("inf")
    assert warmup_threshold({"bands": {"high": 0.5, "medium": 0.1}}, 0.0) == float("inf")


def test_warmup_threshold_from_bands_or_quantiles() -> None:
    manifest = {"bands": {"high": 0.5, "medium": 0.1}}
    assert warmup_threshold(manifest, 0.02) == pytest.approx(0.5)
    assert warmup_threshold(manifest, 0.10) == pytest.approx(0.1)
    assert 0.1 < warmup_threshold(manifest, 0.045) < 0.5
    assert warmup_threshold(manifest, 0.001) == pytest.approx(0.5)  # clamped
    quantiles = {**manifest, "validation_score_quantiles": {"0.01": 0.8, "0.05": 0.3}}
    assert warmup_threshold(quantiles, 0.05) == pytest.approx(0.3)


def test_api_selection_rate_and_recorded_propensity(trained, records, tmp_path) -> None:
    """Many requests: the selection rate nears the budget; random picks carry p."""
    settings = make_settings(
        trained,
        tmp_path,
        inspection_rate=0.1,
        exploration_share=0.3,
        selection_window=300,
        selection_warmup=100,
    )
    p = 0.1 * 0.3
    decisions = []
    with TestClient(create_app(settings)) as client:
        for _ in range(5):
            r = client.post(
                "/v1/score/batch",
                json={"declarations": records},
                params={"reasons": "false"},
                headers=headers(RISK),
            )
            assert r.status_code == 200
            decisions += [x["decision"] for x in r.json()["results"]]
    assert len(decisions) == 5 * len(records)
    warm = decisions[100:]
    selected = np.mean([d["selected"] for d in warm])
    assert selected == pytest.approx(0.07 + p * 0.93, abs=0.02)
    random = [d for d in warm if d["basis"] == "random"]
    assert len(random) > 20
    assert all(d["propensity"] == pytest.approx(p) for d in random)
    assert all(d["propensity"] == 1.0 for d in warm if d["basis"] == "model")
    with sqlite3.connect(settings.decision_db) as conn:
        rows = conn.execute(
            "SELECT basis, propensity, random_probability, threshold FROM decisions"
        ).fetchall()
    assert len(rows) == len(decisions)
    assert all(prop == pytest.approx(p) for basis, prop, _, _ in rows if basis != "model")
    assert all(rp == pytest.approx(p) and 0 < t < 1 for _, _, rp, t in rows)
