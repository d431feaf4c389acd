"""The past control policy and its results: the biased labels.

A declaration is controlled by any of three arms: random (fixed share), rules
(crude profiles), or a noisy prior model that sees part of the truth. Its
propensity, the probability the combined policy had of selecting it, is recorded.
Detection is imperfect and depends on the control type; post-release audits come
months later. Revenue recovered follows the duty and VAT evaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from canonical.schema import CONTROL_TYPES, CONTROLS, RISK_TYPES
from synth.catalogue import IPR_CHAPTERS, LAUNDERING_TRANSIT_ORIGINS
from synth.config import WorldConfig
from synth.declared import Declared
from synth.draft import MODE, SCHEME, SCHEME_RISK, SCHEMES, Draft
from synth.goods import Goods
from synth.parties import Parties
from synth.strings import serial_ids, take, timestamps

# Probability that a control of each type finds each risk type (rows: CONTROL_TYPES[:4]).
DETECTION = {
    #               underval miscl origin ipr  secur operator other
    "documentary": (0.55, 0.50, 0.45, 0.20, 0.30, 0.60, 0.50),
    "physical": (0.80, 0.85, 0.60, 0.90, 0.90, 0.70, 0.60),
    "scan": (0.40, 0.60, 0.30, 0.70, 0.85, 0.40, 0.30),
    "post_release": (0.85, 0.80, 0.80, 0.10, 0.05, 0.80, 0.60),
}
# Mix of control types per mode: documentary, physical, scan, post_release.
TYPE_MIX = {
    "maritime": (0.30, 0.25, 0.35, 0.10),
    "air": (0.50, 0.30, 0.10, 0.10),
    "road": (0.50, 0.35, 0.05, 0.10),
    "rail": (0.30, 0.25, 0.35, 0.10),
    "postal": (0.10, 0.50, 0.40, 0.00),
    "express": (0.10, 0.50, 0.40, 0.00),
}
SEIZED_RISKS = ("ipr", "security")
NOISE_RATE = 0.003  # share of controls of clean goods that record an irregularity anyway


@dataclass(frozen=True)
class Outcomes:
    """What the controls of some declarations find (aligned with the rows given)."""

    control_type: np.ndarray  # index into CONTROL_TYPES[:4]
    outcome: np.ndarray  # one of OUTCOMES
    found_risk: np.ndarray  # index into RISK_TYPES, -1 when nothing was found
    revenue: np.ndarray  # revenue recovered
    delay_h: np.ndarray  # hours from lodgement to the recorded result


def control_outcomes(
    rng: np.random.Generator, mode: np.ndarray, risk: np.ndarray, evaded: np.ndarray
) -> Outcomes:
    """The world's control model, one implementation for the past policy's controls and
    for outcomes revealed later (backtests): a control type drawn by transport mode
    (``mode``: index into TRANSPORT_MODES), detection by type and risk (``risk``: index
    into RISK_TYPES, -1 when clean), clerical noise on clean goods, revenue recovered
    from the ``evaded`` revenue, and the delay until the result is recorded."""
    k = len(mode)
    ctype = np.zeros(k, dtype=np.int64)
    for name, mix in TYPE_MIX.items():
        sel = np.flatnonzero(mode == MODE[name])
        ctype[sel] = rng.choice(4, size=len(sel), p=np.array(mix))
    detect_p = np.zeros(k)
    for t, name in enumerate(CONTROL_TYPES[:4]):
        sel = (ctype == t) & (risk >= 0)
        detect_p[sel] = np.array(DETECTION[name])[risk[sel]]
    found = rng.random(k) < detect_p
    noise = (risk < 0) & (rng.random(k) < NOISE_RATE)  # clerical errors found on clean goods
    seized = found & np.isin(risk, [RISK_TYPES.index(r) for r in SEIZED_RISKS])
    outcome = np.where(
        seized, "seizure", np.where(found | noise, "irregularity", "no_irregularity")
    )
    found_risk = np.where(found, risk, np.where(noise, RISK_TYPES.index("other"), -1))
    revenue = np.where(found & ~seized, evaded * rng.uniform(0.7, 1.0, k), 0.0)
    revenue = np.round(np.where(noise, rng.uniform(20, 400, k), revenue), 2)
    delay_h = np.where(ctype == 3, rng.uniform(30, 240, k) * 24, rng.uniform(0.5, 72, k))
    return Outcomes(ctype, outcome, found_risk, revenue, delay_h)


def detection_probability(mode: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Probability that a control of each row records an irregularity (what
    ``control_outcomes`` draws, in expectation): detection averaged over the mode's mix of
    control types for irregular rows, the clerical-noise rate for clean ones."""
    table = np.array([DETECTION[name] for name in CONTROL_TYPES[:4]])  # type x risk
    out = np.full(len(mode), NOISE_RATE)
    for name, mix in TYPE_MIX.items():
        sel = (mode == MODE[name]) & (risk >= 0)
        out[sel] = np.array(mix) @ table[:, risk[sel]]
    return out


def risk_types(d: Draft) -> np.ndarray:
    """Risk type index (into RISK_TYPES) of each row's scheme, -1 for clean rows."""
    out = np.full(d.n, -1)
    for scheme, risk in SCHEME_RISK.items():
        out[d.scheme == SCHEME[scheme]] = RISK_TYPES.index(risk)
    bg = d.scheme == SCHEME["background"]
    out[bg] = np.where(
        d.risk_other[bg], RISK_TYPES.index("other"), RISK_TYPES.index("undervaluation")
    )
    return out


def _rule_hits(config: WorldConfig, goods: Goods, parties: Parties, d: Draft) -> np.ndarray:
    countries = parties.countries
    b2b = d.importer >= 0
    entry = np.where(b2b, parties.importer_entry_day[np.maximum(d.importer, 0)], 0)
    new_importer = b2b & (entry > 0) & (d.day - entry < 30)
    chapter = goods.chapter[d.hs]
    asia_sellers = np.isin(
        parties.seller_country[d.seller], [countries.index("CN"), countries.index("HK")]
    )
    ipr = d.ecom & np.isin(chapter, IPR_CHAPTERS) & asia_sellers
    low_value = d.value / d.mass < 0.3 * np.exp(goods.log_value_per_kg[d.hs])
    ad_hs = np.array(sorted({h for h, _ in goods.anti_dumping}))
    near_ad = np.isin(d.hs, ad_hs) & np.isin(
        d.origin, [countries.index(c) for c in LAUNDERING_TRANSIT_ORIGINS]
    )
    sensitive_air = (d.mode == MODE["air"]) & np.isin(chapter, ["93", "28"])
    return new_importer | ipr | low_value | near_ad | sensitive_air


def _calibrated_sigmoid(z: np.ndarray, mean: float) -> np.ndarray:
    """sigmoid(a + z) with the intercept a chosen so the mean is ``mean``."""
    if mean <= 0:
        return np.zeros_like(z)
    lo, hi = -30.0, 30.0
    for _ in range(50):
        a = (lo + hi) / 2
        if (1 / (1 + np.exp(-(a + z)))).mean() > mean:
            hi = a
        else:
            lo = a
    return 1 / (1 + np.exp(-((lo + hi) / 2 + z)))


def build_controls(
    rng: np.random.Generator,
    config: WorldConfig,
    goods: Goods,
    parties: Parties,
    d: Draft,
    declared: Declared,
    declaration_ids: pa.Array,
    ens_ids: pa.Array,
) -> pa.Table:
    """Controls chosen by the past policy, with outcomes for the controlled rows only."""
    n = d.n
    fraud = d.scheme > 0
    aeo = np.zeros(n, bool)
    aeo[d.importer >= 0] = parties.importer_aeo[d.importer[d.importer >= 0]]
    damp = np.where(aeo, config.aeo_control_factor, 1.0)
    p_random = np.full(n, config.random_control_share)
    p_rule = config.rule_control_probability * _rule_hits(config, goods, parties, d) * damp
    z = 2.5 * fraud * (rng.random(n) < 0.6) + rng.normal(0, 1, n)
    p_model = _calibrated_sigmoid(z, config.model_control_rate) * damp
    by_random = rng.random(n) < p_random
    by_rule = rng.random(n) < p_rule
    by_model = rng.random(n) < p_model
    rows = np.flatnonzero(by_random | by_rule | by_model)
    basis = np.where(by_random[rows], "random", np.where(by_rule[rows], "rule", "model"))
    propensity = 1 - (1 - p_random[rows]) * (1 - p_rule[rows]) * (1 - p_model[rows])

    out = control_outcomes(rng, d.mode[rows], risk_types(d)[rows], declared.evaded_revenue[rows])
    controlled_at = d.second[rows] + out.delay_h * 3600
    return pa.Table.from_arrays(
        [
            serial_ids("CTL", np.arange(len(rows)), 9),
            declaration_ids.take(pa.array(rows)),
            ens_ids.take(pa.array(rows)),
            timestamps(config.start, controlled_at),
            take(list(CONTROL_TYPES), out.control_type),
            pa.array(basis, pa.string()),
            pa.array(np.clip(propensity, 1e-6, 1.0)),
            pa.array(out.outcome, pa.string()),
            take(list(RISK_TYPES), out.found_risk),
            pa.array(out.revenue),
        ],
        schema=CONTROLS.arrow_schema(),
    )


__all__ = [
    "SCHEMES",
    "Outcomes",
    "build_controls",
    "control_outcomes",
    "detection_probability",
    "risk_types",
]
