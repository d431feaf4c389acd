"""What the declarant writes in the money fields: currency, value, preference, duty,
supplementary units; and what the truth would have cost (evaded revenue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from canonical.codes import EUR_PER_UNIT
from synth.catalogue import (
    DEFAULT_INVOICE_CURRENCIES,
    INVOICE_CURRENCIES,
    PREFERENTIAL_ORIGINS,
    VAT_RATE,
)
from synth.draft import Draft
from synth.goods import Goods
from synth.parties import Parties


@dataclass(frozen=True)
class Declared:
    """Declared money fields per row, plus the true duty and evaded revenue."""

    currency: np.ndarray  # str
    customs_value: np.ndarray
    customs_value_rc: np.ndarray
    preference: np.ndarray  # str: "100" none, "300" preferential origin
    duty_rate: np.ndarray
    duty_amount: np.ndarray
    supplementary_units: np.ndarray
    true_duty_rate: np.ndarray
    evaded_revenue: np.ndarray


def _currencies(rng: np.random.Generator, seller_country: np.ndarray) -> np.ndarray:
    out = np.empty(len(seller_country), dtype="<U3")
    default = np.ones(len(seller_country), dtype=bool)
    for country, options in INVOICE_CURRENCIES.items():
        rows = np.flatnonzero(seller_country == country)
        default[rows] = False
        names = np.array([c for c, _ in options])
        p = np.array([w for _, w in options])
        out[rows] = names[rng.choice(len(names), len(rows), p=p)]
    rows = np.flatnonzero(default)
    names = np.array([c for c, _ in DEFAULT_INVOICE_CURRENCIES])
    p = np.array([w for _, w in DEFAULT_INVOICE_CURRENCIES])
    out[rows] = names[rng.choice(len(names), len(rows), p=p)]
    return out


def declare(rng: np.random.Generator, goods: Goods, parties: Parties, d: Draft) -> Declared:
    """Fill the declared money fields from the draft's declared goods and value."""
    countries = np.array(parties.countries)
    currency = _currencies(rng, countries[parties.seller_country[d.seller]])
    names, inverse = np.unique(currency, return_inverse=True)
    rate = np.array([EUR_PER_UNIT[c] for c in names])[inverse]
    customs_value = np.round(d.value / rate, 2)
    customs_value_rc = customs_value * rate

    preferential = np.isin(countries, list(PREFERENTIAL_ORIGINS))
    claims = preferential[d.origin] & (rng.random(d.n) < 0.7)
    true_eligible = preferential[d.true_origin]
    duty_rate = np.round(
        np.where(claims, 0.0, goods.duty_rate[d.hs]) + goods.ad_rate(d.hs, d.origin), 4
    )
    true_rate = np.where(claims & true_eligible, 0.0, goods.duty_rate[d.true_hs])
    true_rate = true_rate + goods.ad_rate(d.true_hs, d.true_origin)
    duty_amount = np.round(customs_value_rc * duty_rate, 2)

    upk = goods.units_per_kg[d.hs]
    units = np.where(
        np.isnan(upk),
        np.nan,
        np.maximum(1.0, np.round(d.mass * upk * np.exp(rng.normal(0, 0.15, d.n)))),
    )
    duty_gap = d.true_value * true_rate - customs_value_rc * duty_rate
    vat_gap = VAT_RATE * (d.true_value * (1 + true_rate) - customs_value_rc * (1 + duty_rate))
    evaded = np.round(np.maximum(duty_gap, 0) + np.maximum(vat_gap, 0), 2)
    evaded[d.scheme == 0] = 0.0
    return Declared(
        currency=currency,
        customs_value=customs_value,
        customs_value_rc=customs_value_rc,
        preference=np.where(claims, "300", "100"),
        duty_rate=duty_rate,
        duty_amount=duty_amount,
        supplementary_units=units,
        true_duty_rate=np.round(true_rate, 4),
        evaded_revenue=evaded,
    )
