"""ENS filings and goods items for the declarations: routes, lead times, PLACI
pre-loading filings for air, amendments (new versions) and duplicate filings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canonical.schema import ENS_FILINGS, ENS_ITEMS, TRANSPORT_MODES
from synth.catalogue import (
    ENS_LEAD_HOURS,
    LOADING_PLACES,
    OFFICE_KINDS,
    OTHER_EU_ENTRY,
    REGIONS,
    TRANSIT_HUBS,
)
from synth.config import WorldConfig
from synth.draft import MODE, SCHEME, Draft
from synth.goods import Goods
from synth.naming import Names
from synth.parties import Parties
from synth.strings import serial_ids, take, timestamps, year_prefix

HUB_SHARE = {"maritime": 0.4, "air": 0.3, "road": 0.2, "rail": 0.0, "postal": 0.5, "express": 0.5}
CONTAINER_SHARE = {
    "maritime": 0.9,
    "air": 0.0,
    "road": 0.2,
    "rail": 0.95,
    "postal": 0.0,
    "express": 0.0,
}


@dataclass(frozen=True)
class EnsTables:
    """ENS tables and, per declaration row, the id of its filing (null when none)."""

    filings: pa.Table
    items: pa.Table
    declaration_ens_id: pa.Array


def _itineraries(
    rng: np.random.Generator, config: WorldConfig, parties: Parties, d: Draft, rows: np.ndarray
) -> tuple[pa.Array, np.ndarray]:
    """Country itinerary strings and the EU entry country index of each filing."""
    countries = parties.countries
    cidx = {c: i for i, c in enumerate(countries)}
    m = len(rows)
    mode = d.mode[rows]
    load = d.load_country[rows]
    transit = d.transit[rows].copy()
    hub = np.full(m, -1)
    for name, share in HUB_SHARE.items():
        sel = np.flatnonzero((mode == MODE[name]) & (rng.random(m) < share))
        options = np.array([cidx[c] for c in TRANSIT_HUBS[name]])
        hub[sel] = options[rng.integers(0, len(options), len(sel))]
    far_east = np.isin(load, [cidx[c] for c in REGIONS["far_east"]])
    rail = mode == MODE["rail"]
    transit[rail & far_east & (transit < 0)] = cidx["KZ"]
    hub[(hub == load) | (hub == transit)] = -1
    entry = np.where(
        rng.random(m) < 0.85,
        cidx[config.country],
        np.array([cidx[c] for c in OTHER_EU_ENTRY])[rng.integers(0, len(OTHER_EU_ENTRY), m)],
    )
    entry[rail] = cidx["PL"]
    parts = [
        take(countries, load),
        take(countries, transit),
        take(countries, hub),
        take(countries, entry),
    ]
    itinerary = pc.binary_join_element_wise(*parts, "-", null_handling="skip")
    return itinerary, entry


def _loading_places(rng: np.random.Generator, countries: list[str], load: np.ndarray) -> pa.Array:
    codes = np.array([c + "ZZZ" for c in countries], dtype=object)[load]
    for country, places in LOADING_PLACES.items():
        sel = np.flatnonzero(load == countries.index(country))
        codes[sel] = np.char.add(country, np.array(places)[rng.integers(0, len(places), len(sel))])
    return pa.array(codes, pa.string())


def _offices(
    rng: np.random.Generator,
    config: WorldConfig,
    countries: list[str],
    mode: np.ndarray,
    entry: np.ndarray,
) -> pa.Array:
    out = np.empty(len(mode), dtype=object)
    for name in TRANSPORT_MODES:
        sel = np.flatnonzero(mode == MODE[name])
        kinds = np.array(OFFICE_KINDS[name])
        out[sel] = np.char.add(
            np.array(countries)[entry[sel]], kinds[rng.integers(0, len(kinds), len(sel))]
        )
    home = entry == countries.index(config.country)
    foreign = np.flatnonzero(~home)
    out[foreign] = np.char.add(
        np.array(countries)[entry[foreign]],
        np.char.zfill(rng.integers(100, 999, len(foreign)).astype("<U6"), 6),
    )
    return pa.array(out, pa.string())


def build_ens(
    rng: np.random.Generator,
    config: WorldConfig,
    goods: Goods,
    parties: Parties,
    d: Draft,
    names: Names,
) -> EnsTables:
    """ENS filings (with versions and duplicates) and items for the declarations."""
    rows = np.flatnonzero(rng.random(d.n) >= config.ens_missing_share)
    m = len(rows)
    mode = d.mode[rows]
    lodged = d.second[rows].astype(float)
    prelodged = rng.random(m) < 0.2
    arrival = np.where(
        prelodged, lodged + rng.uniform(0, 24, m) * 3600, lodged - rng.uniform(0, 36, m) * 3600
    )
    lead = np.zeros(m)
    for name, (lo, hi) in ENS_LEAD_HOURS.items():
        sel = mode == MODE[name]
        lead[sel] = rng.uniform(lo, hi, int(sel.sum())) * 3600
    filed_full = arrival - lead
    itinerary, entry = _itineraries(rng, config, parties, d, rows)

    airborne = np.isin(mode, [MODE["air"], MODE["express"]])
    placi = airborne & (rng.random(m) < 0.6)
    amended = rng.random(m) < config.ens_amendment_share
    duplicated = rng.random(m) < config.ens_duplicate_share

    # One row per filing version: [PLACI v1], full, [amendment]; then duplicate filings.
    f_placi = np.flatnonzero(placi)
    f_amend = np.flatnonzero(amended)
    f_dup = np.flatnonzero(duplicated)
    filing = np.concatenate([f_placi, np.arange(m), f_amend, f_dup])
    version = np.concatenate(
        [np.ones(len(f_placi), int), 1 + placi, 2 + placi[f_amend], np.ones(len(f_dup), int)]
    )
    full_type = np.concatenate(
        [np.zeros(len(f_placi), bool), np.ones(m + len(f_amend) + len(f_dup), bool)]
    )
    filed = np.concatenate(
        [
            filed_full[f_placi] - rng.uniform(2, 12, len(f_placi)) * 3600,
            filed_full,
            filed_full[f_amend]
            + (arrival[f_amend] - filed_full[f_amend]) * rng.uniform(0.2, 0.9, len(f_amend)),
            filed_full[f_dup] + rng.uniform(60, 7200, len(f_dup)),
        ]
    )
    is_dup = np.concatenate([np.zeros(len(filing) - len(f_dup), bool), np.ones(len(f_dup), bool)])
    serial = np.where(is_dup, m + np.cumsum(is_dup) - 1, filing)
    order = np.lexsort((version, serial))
    filing, version, full_type, filed, serial, is_dup = (
        a[order] for a in (filing, version, full_type, filed, serial, is_dup)
    )

    filing_ids_by_serial = serial_ids(
        year_prefix(
            config.start, np.concatenate([filed_full, filed_full[f_dup]]), f"{config.country}E"
        ),
        np.arange(m + len(f_dup)),
        12,
    )
    ids = filing_ids_by_serial.take(pa.array(serial))
    r = rows[filing]
    countries = parties.countries
    consignee = np.where(d.importer[r] >= 0, d.importer[r], parties.n_importers + d.private[r])
    consignee_names = np.concatenate([names.importer, names.private])
    imp_country = np.concatenate(
        [parties.importer_country, np.full(parties.n_private, config.country)]
    )
    carrier = d.carrier[r]
    filings = pa.Table.from_arrays(
        [
            ids,
            pa.array(version, pa.int64()),
            timestamps(config.start, filed),
            pa.array(np.where(full_type, "full", "pre_loading"), pa.string()),
            take(list(TRANSPORT_MODES), d.mode[r]),
            take(names.carrier, carrier),
            pa.array(parties.carrier_aeo[carrier]),
            take(names.seller, d.seller[r]),
            take(countries, parties.seller_country[d.seller[r]]),
            take(consignee_names, consignee),
            pa.array(imp_country[consignee], pa.string()),
            _loading_places(rng, countries, d.load_country[r]),
            itinerary.take(pa.array(filing)),
            _offices(rng, config, countries, d.mode[r], entry[filing]),
            timestamps(config.start, arrival[filing]),
        ],
        schema=ENS_FILINGS.arrow_schema(),
    )

    # Goods items: item 1 mirrors the declaration; some business filings carry a second item.
    shown_hs = d.hs[r].copy()
    miscl = (d.scheme[r] == SCHEME["misclassification"]) & (rng.random(len(r)) < 0.4)
    shown_hs[miscl] = d.true_hs[r][miscl]  # the carrier describes what is really shipped
    amendment = version > 1 + placi[filing]  # an amended version restates the mass
    gross_factor = rng.uniform(1.03, 1.25, len(r)) * np.where(
        amendment, rng.uniform(0.9, 1.1, len(r)), 1.0
    )
    gross = np.round(d.mass[r] * gross_factor, 2)
    packages = np.where(
        d.importer[r] >= 0, np.maximum(1, np.round(d.mass[r] / rng.uniform(10, 40, len(r)))), 1
    )
    container_p = np.array([CONTAINER_SHARE[name] for name in TRANSPORT_MODES])[d.mode[r]]
    containerised = rng.random(len(r)) < container_p
    extra = (d.importer[r] >= 0) & (rng.random(len(r)) < 0.1)
    xi = np.flatnonzero(extra)
    extra_hs = rng.choice(goods.n, len(xi), p=goods.popularity)
    item_row = np.concatenate([np.arange(len(r)), xi])
    item_no = np.concatenate([np.ones(len(r), int), np.full(len(xi), 2)])
    item_hs = np.concatenate([shown_hs, extra_hs])
    item_mass = np.concatenate(
        [gross, np.round(np.exp(goods.log_mass_kg[extra_hs] + rng.normal(0, 1, len(xi))), 2)]
    )
    order = np.lexsort((item_no, item_row))
    item_row, item_no, item_hs, item_mass = (
        a[order] for a in (item_row, item_no, item_hs, item_mass)
    )
    items = pa.Table.from_arrays(
        [
            ids.take(pa.array(item_row)),
            pa.array(version[item_row], pa.int64()),
            pa.array(item_no, pa.int64()),
            take(goods.hs6, item_hs),
            take(goods.description, item_hs),
            pa.array(item_mass),
            pa.array(packages[item_row].astype(np.int64)),
            pa.array(containerised[item_row]),
        ],
        schema=ENS_ITEMS.arrow_schema(),
    )

    decl_ens = np.full(d.n, -1)
    decl_ens[rows] = np.arange(m)
    return EnsTables(
        filings=filings,
        items=items,
        declaration_ens_id=filing_ids_by_serial.take(
            pa.array(np.where(decl_ens < 0, 0, decl_ens), mask=decl_ens < 0)
        ),
    )
