"""Legitimate traffic: who imports what, from whom, when, by which mode, at what price."""

from __future__ import annotations

import numpy as np

from synth.catalogue import B2B_MODES, MANUFACTURING_ORIGINS, REGION_MODE_MIX, REGIONS
from synth.config import WorldConfig
from synth.draft import MODE, Draft
from synth.goods import Goods
from synth.parties import Parties


def _day_weights(days: int, start_weekday: int) -> np.ndarray:
    d = np.arange(days)
    weekday = (start_weekday + d) % 7
    w = np.select([weekday == 5, weekday == 6], [0.3, 0.15], 1.0)
    w = w * (1 + 0.1 * d / days) * (1 + 0.15 * np.sin(2 * np.pi * (d - 60) / 365) ** 2)
    return w / w.sum()


def sample_carriers(rng: np.random.Generator, parties: Parties, mode: np.ndarray) -> np.ndarray:
    """A carrier of the right mode for each row, big carriers more often."""
    out = np.zeros(len(mode), dtype=np.int64)
    for name, m in MODE.items():
        rows = np.flatnonzero(mode == m)
        members = np.flatnonzero(parties.carrier_mode == name)
        p = parties.carrier_weight[members] / parties.carrier_weight[members].sum()
        out[rows] = members[rng.choice(len(members), size=len(rows), p=p)]
    return out


def business_modes(
    rng: np.random.Generator, dispatch: np.ndarray, countries: list[str]
) -> np.ndarray:
    """Transport mode per row from the region of the dispatch country."""
    region_of = np.full(len(countries), "other", dtype=object)
    for region, members in REGIONS.items():
        for c in members:
            region_of[countries.index(c)] = region
    region = region_of[dispatch]
    mode = np.zeros(len(dispatch), dtype=np.int8)
    b2b_codes = np.array([MODE[m] for m in B2B_MODES], dtype=np.int8)
    for name, mix in REGION_MODE_MIX.items():
        rows = np.flatnonzero(region == name)
        mode[rows] = b2b_codes[rng.choice(4, size=len(rows), p=np.array(mix))]
    return mode


def unit_values(
    rng: np.random.Generator,
    goods: Goods,
    parties: Parties,
    hs: np.ndarray,
    origin: np.ndarray,
    importer: np.ndarray,
) -> np.ndarray:
    """True value per kg (EUR): HS6 level, origin offset, importer habit, noise."""
    effect = np.where(importer >= 0, parties.importer_price_effect[np.maximum(importer, 0)], 0.0)
    log_uv = goods.log_value_per_kg[hs] + goods.pair_effect[hs, origin] + effect
    return np.exp(log_uv + rng.normal(0, 0.3, len(hs)))


def business_masses(
    rng: np.random.Generator, goods: Goods, parties: Parties, hs: np.ndarray, importer: np.ndarray
) -> np.ndarray:
    """Net mass (kg) of business consignments."""
    log_m = goods.log_mass_kg[hs] + parties.importer_mass_effect[importer]
    return np.round(np.exp(log_m + rng.normal(0, 0.9, len(hs))), 2) + 0.01


def build_baseline(
    rng: np.random.Generator, config: WorldConfig, goods: Goods, parties: Parties
) -> Draft:
    """Draw legitimate declarations, sorted by time."""
    n = config.n_declarations
    countries = parties.countries
    cidx = {c: i for i, c in enumerate(countries)}
    day = np.sort(
        rng.choice(config.days, size=n, p=_day_weights(config.days, config.start.weekday()))
    )
    ecom = rng.random(n) < config.ecommerce_share
    secs = np.where(
        ecom,
        rng.integers(0, 86_400, n),
        np.clip(rng.normal(13 * 3600, 3 * 3600, n), 5 * 3600, 22 * 3600).astype(np.int64),
    )
    second = day.astype(np.int64) * 86_400 + secs
    order = np.argsort(second, kind="stable")
    day, ecom, second = day[order], ecom[order], second[order]

    b2b = np.flatnonzero(~ecom)
    importer = np.full(n, -1, dtype=np.int64)
    imp = rng.choice(parties.n_importers, size=len(b2b), p=parties.importer_weight)
    too_early = parties.importer_entry_day[imp] > day[b2b]
    established = np.flatnonzero(parties.importer_entry_day == 0)
    p_est = parties.importer_weight[established] / parties.importer_weight[established].sum()
    imp[too_early] = established[rng.choice(len(established), size=int(too_early.sum()), p=p_est)]
    importer[b2b] = imp

    declarant = np.full(n, -1, dtype=np.int64)
    dec = parties.importer_declarant[imp].copy()
    switch = rng.random(len(b2b)) < 0.15
    p_dec = parties.declarant_weight / parties.declarant_weight.sum()
    dec[switch] = rng.choice(parties.n_declarants, size=int(switch.sum()), p=p_dec)
    dec[parties.importer_self_declares[imp]] = -1
    declarant[b2b] = dec

    hs = np.zeros(n, dtype=np.int64)
    slot = (rng.random(len(b2b)) * parties.importer_n_products[imp]).astype(int)
    hs[b2b] = parties.importer_products[imp, slot]
    seller = np.zeros(n, dtype=np.int64)
    slot = (rng.random(len(b2b)) * parties.importer_n_sellers[imp]).astype(int)
    seller[b2b] = parties.importer_sellers[imp, slot]

    dispatch = parties.seller_country[seller]
    origin = dispatch.copy()
    resold = np.flatnonzero(~ecom & parties.seller_hub[seller] & (rng.random(n) < 0.6))
    mfg = list(MANUFACTURING_ORIGINS)
    p_mfg = np.array(list(MANUFACTURING_ORIGINS.values()))
    origin[resold] = np.array([cidx[c] for c in mfg])[rng.choice(len(mfg), len(resold), p=p_mfg)]

    mode = np.zeros(n, dtype=np.int8)
    mode[b2b] = business_modes(rng, dispatch[b2b], countries)

    # Consumer parcels (e-commerce): postal or express, small and cheap.
    eco = np.flatnonzero(ecom)
    private = np.full(n, -1, dtype=np.int64)
    private[eco] = rng.integers(0, parties.n_private, len(eco))
    seller[eco] = parties.ecom_sellers[
        rng.choice(len(parties.ecom_sellers), size=len(eco), p=parties.ecom_seller_weight)
    ]
    consumer_hs = np.flatnonzero(goods.consumer)
    p_cons = goods.popularity[consumer_hs] / goods.popularity[consumer_hs].sum()
    hs[eco] = consumer_hs[rng.choice(len(consumer_hs), size=len(eco), p=p_cons)]
    origin[eco] = parties.seller_country[seller[eco]]
    dispatch[eco] = origin[eco]
    mode[eco] = np.where(rng.random(len(eco)) < 0.4, MODE["postal"], MODE["express"])
    carrier = sample_carriers(rng, parties, mode)
    declarant[eco] = parties.carrier_declarant[carrier[eco]]

    mass = np.zeros(n)
    mass[b2b] = business_masses(rng, goods, parties, hs[b2b], imp)
    mass[eco] = np.round(np.exp(rng.normal(-0.7, 0.8, len(eco))), 3) + 0.05
    value = np.round(mass * unit_values(rng, goods, parties, hs, origin, importer), 2) + 1.0

    return Draft(
        day=day,
        second=second,
        ecom=ecom,
        importer=importer,
        private=private,
        declarant=declarant,
        seller=seller,
        mode=mode,
        carrier=carrier,
        hs=hs,
        true_hs=hs.copy(),
        cn_suffix=rng.choice(np.array([0, 0, 0, 10, 90, 20]), size=n),
        origin=origin,
        true_origin=origin.copy(),
        dispatch=dispatch,
        load_country=dispatch.copy(),
        transit=np.full(n, -1, dtype=np.int64),
        mass=mass,
        true_value=value,
        value=value.copy(),
        scheme=np.zeros(n, dtype=np.int8),
        group=np.full(n, -1, dtype=np.int64),
        risk_other=np.zeros(n, dtype=bool),
    )
