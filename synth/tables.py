"""Turn the draft into the canonical declarations table and the ground-truth table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from canonical.schema import DECLARATIONS, RISK_TYPES, TRANSPORT_MODES
from synth.catalogue import OFFICE_KINDS
from synth.config import WorldConfig
from synth.declared import Declared
from synth.draft import SCHEMES, Draft
from synth.goods import Goods
from synth.naming import Names
from synth.parties import Parties
from synth.strings import serial_ids, take, timestamps, year_prefix

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("declaration_id", pa.string()),
        pa.field("scheme", pa.string()),
        pa.field("risk_type", pa.string()),
        pa.field("group_id", pa.int64()),
        pa.field("true_hs6", pa.string()),
        pa.field("true_origin_country", pa.string()),
        pa.field("true_customs_value_rc", pa.float64()),
        pa.field("true_duty_rate", pa.float64()),
        pa.field("evaded_revenue", pa.float64()),
    ]
)


def declaration_ids(config: WorldConfig, d: Draft) -> pa.Array:
    """MRN-like ids (year, country, I, serial), increasing with lodgement time."""
    return serial_ids(
        year_prefix(config.start, d.second.astype(float), f"{config.country}I"), np.arange(d.n), 12
    )


def _offices(rng: np.random.Generator, config: WorldConfig, d: Draft) -> pa.Array:
    out = np.empty(d.n, dtype=object)
    for m, name in enumerate(TRANSPORT_MODES):
        sel = np.flatnonzero(d.mode == m)
        kinds = np.char.add(config.country, np.array(OFFICE_KINDS[name]))
        out[sel] = kinds[rng.integers(0, len(kinds), len(sel))]
    inland = (d.importer >= 0) & (rng.random(d.n) < 0.2)
    out[inland] = config.country + "000100"
    return pa.array(out, pa.string())


def declarations_table(
    rng: np.random.Generator,
    config: WorldConfig,
    goods: Goods,
    parties: Parties,
    d: Draft,
    declared: Declared,
    names: Names,
    ids: pa.Array,
    ens_ids: pa.Array,
) -> pa.Table:
    """The canonical declarations table."""
    countries = parties.countries
    n_imp = parties.n_importers
    importer_idx = np.where(d.importer >= 0, d.importer, n_imp + d.private)
    importer_names = np.concatenate([names.importer, names.private])
    importer_ids = take(importer_names, importer_idx)
    declarant_ids = take(names.declarant, d.declarant)
    self_declared = pa.array(d.declarant < 0)
    declarant_ids = pa.compute.if_else(self_declared, importer_ids, declarant_ids)
    declarant_aeo = np.where(
        d.declarant >= 0,
        parties.declarant_aeo[np.maximum(d.declarant, 0)],
        parties.importer_aeo[np.maximum(d.importer, 0)] & (d.importer >= 0),
    )
    buyer = importer_idx.copy()
    other = (d.importer >= 0) & (rng.random(d.n) < 0.1)
    buyer[other] = rng.integers(0, n_imp, int(other.sum()))
    cn = np.char.zfill(d.cn_suffix.astype("<U2"), 2)
    hs_code = np.char.add(goods.hs6[d.hs], cn)
    procedure = rng.choice(np.array(["4000", "4200", "4071"]), d.n, p=[0.87, 0.10, 0.03])
    return pa.Table.from_arrays(
        [
            ids,
            timestamps(config.start, d.second.astype(float)),
            _offices(rng, config, d),
            pa.array(procedure, pa.string()),
            declarant_ids,
            importer_ids,
            take(names.seller, d.seller),
            take(countries, parties.seller_country[d.seller]),
            take(importer_names, buyer),
            take(countries, d.origin),
            take(countries, d.dispatch),
            pa.array(hs_code, pa.string()),
            take(goods.description, d.hs),
            pa.array(d.mass),
            pa.array(declared.supplementary_units, from_pandas=True),  # NaN -> null
            pa.array(declared.customs_value),
            pa.array(declared.currency, pa.string()),
            pa.array(declared.customs_value_rc),
            pa.array(declared.duty_rate),
            pa.array(declared.duty_amount),
            pa.array(declared.preference, pa.string()),
            take(list(TRANSPORT_MODES), d.mode),
            pa.array((d.importer >= 0) & parties.importer_aeo[np.maximum(d.importer, 0)]),
            pa.array(declarant_aeo),
            ens_ids,
        ],
        schema=DECLARATIONS.arrow_schema(),
    )


def truth_table(
    goods: Goods, parties: Parties, d: Draft, declared: Declared, ids: pa.Array, risk: np.ndarray
) -> pa.Table:
    """Ground truth of the planted schemes: never an input of any model."""
    rows = np.flatnonzero(d.scheme > 0)
    return pa.Table.from_arrays(
        [
            ids.take(pa.array(rows)),
            take(list(SCHEMES), d.scheme[rows]),
            take(list(RISK_TYPES), risk[rows]),
            pa.array(d.group[rows]),
            take(goods.hs6, d.true_hs[rows]),
            take(parties.countries, d.true_origin[rows]),
            pa.array(d.true_value[rows]),
            pa.array(declared.true_duty_rate[rows]),
            pa.array(declared.evaded_revenue[rows]),
        ],
        schema=TRUTH_SCHEMA,
    )
