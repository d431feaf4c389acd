"""The rows to featurise as plain numpy columns, with their linked ENS summarised.

``inputs_from_frames`` serves training and batch scoring (canonical pandas frames);
``inputs_from_records`` serves the API (canonical dicts, ENS embedded). Both end in
the same numpy summary of the ENS (``summarise_ens``), so every feature downstream
has a single implementation whatever the entry point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from features.timebase import to_seconds

TEXT_COLUMNS = (
    "declaration_id",
    "importer_id",
    "declarant_id",
    "seller_id",
    "office",
    "origin_country",
    "dispatch_country",
    "hs_code",
    "preference",
    "transport_mode",
    "ens_id",
)
NUMBER_COLUMNS = ("net_mass_kg", "supplementary_units", "customs_value_rc", "duty_rate")
FLAG_COLUMNS = ("importer_aeo", "declarant_aeo")
ENS_TEXT = (
    "filing_id",
    "carrier_id",
    "itinerary",
    "items_hs6",
    "content_key",
    "consignor_id",
    "consignee_id",
)
ENS_NUMBER = ("first_filed", "expected_arrival", "versions", "gross_mass_kg")
ENS_FLAG = ("carrier_aeo", "pre_loading", "containerised", "present")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


@dataclass
class Inputs:
    """Columns of ``n`` declarations; ``ens`` holds per-row summaries of their ENS."""

    time: np.ndarray  # int64 seconds, lodged_at
    text: dict[str, np.ndarray]  # object arrays, None where missing
    number: dict[str, np.ndarray]  # float64, NaN where missing
    flag: dict[str, np.ndarray]  # bool
    ens: dict[str, np.ndarray] | None  # None when no ENS data was given at all
    # The ENS versions linked to the rows (``row`` tags each): kept by
    # ``inputs_from_records`` so that a batch prepared once can be scored, then folded.
    versions: dict[str, np.ndarray] | None = None
    _keys: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _codes: dict[tuple[str, Any], tuple[int, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.time)

    @property
    def extra_categoricals(self) -> list[str]:
        return sorted(k for k in self.text if k.startswith("extra_cat__"))

    @property
    def extra_numerics(self) -> list[str]:
        return sorted(k for k in self.number if k.startswith("extra_num__"))

    def take(self, rows: np.ndarray) -> Inputs:
        """The inputs of a subset of rows."""
        pick = {k: v[rows] for k, v in self.text.items()}
        ens = None if self.ens is None else {k: v[rows] for k, v in self.ens.items()}
        versions = None
        if self.versions is not None:
            position = np.full(self.n, -1, dtype=np.int64)
            position[np.asarray(rows)] = np.arange(len(self.time[rows]))
            new_row = position[self.versions["row"]]
            versions = {k: v[new_row >= 0] for k, v in self.versions.items()}
            versions["row"] = new_row[new_row >= 0]
        return Inputs(
            time=self.time[rows],
            text=pick,
            number={k: v[rows] for k, v in self.number.items()},
            flag={k: v[rows] for k, v in self.flag.items()},
            ens=ens,
            versions=versions,
        )


def _layout(inputs: Inputs) -> tuple[Any, ...]:
    """What must agree for inputs to be concatenated: their columns and ENS parts."""
    return (
        tuple(inputs.text),
        tuple(inputs.number),
        tuple(inputs.flag),
        None if inputs.ens is None else tuple(inputs.ens),
        None if inputs.versions is None else tuple(inputs.versions),
    )


def concat_inputs(parts: list[Inputs]) -> list[Inputs]:
    """Runs of consecutive ``parts`` with the same layout, each concatenated into one
    ``Inputs`` in order (ENS version rows renumbered): a server folds the many small
    batches of single requests in one update instead of one update per request."""
    runs: list[list[Inputs]] = []
    for part in parts:
        if runs and _layout(runs[-1][0]) == _layout(part):
            runs[-1].append(part)
        else:
            runs.append([part])
    return [run[0] if len(run) == 1 else _concat(run) for run in runs]


def _concat(run: list[Inputs]) -> Inputs:
    first = run[0]

    def joined(get: Any) -> dict[str, np.ndarray]:
        return {k: np.concatenate([get(p)[k] for p in run]) for k in get(first)}

    versions = None
    if first.versions is not None:
        offsets = np.cumsum([0] + [p.n for p in run[:-1]])
        versions = {
            k: np.concatenate([p.versions[k] for p in run])  # type: ignore[index]
            for k in first.versions
            if k != "row"
        }
        versions["row"] = np.concatenate(
            [p.versions["row"] + o for p, o in zip(run, offsets, strict=True)]  # type: ignore[index]
        )
    return Inputs(
        time=np.concatenate([p.time for p in run]),
        text=joined(lambda p: p.text),
        number=joined(lambda p: p.number),
        flag=joined(lambda p: p.flag),
        ens=None if first.ens is None else joined(lambda p: p.ens),
        versions=versions,
    )


def _text(values: Any, n: int) -> np.ndarray:
    """Object array with None for missing values."""
    if values is None:
        return np.full(n, None, dtype=object)
    if isinstance(values, pd.Series):  # one pass, whatever the dtype (arrow strings too)
        return values.to_numpy(dtype=object, na_value=None)
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), None).to_numpy(dtype=object)


def text_column(values: Any, n: int) -> np.ndarray:
    """Object array with None for missing values (``n`` Nones when ``values`` is None)."""
    return _text(values, n)


def text_isin(column: pd.Series, values: Any) -> np.ndarray:
    """``column.isin(values)`` as a bool array, through object arrays: pandas' arrow-string
    ``isin`` builds one Python scalar per looked-up value (20x slower on 50,000 ids)."""
    if isinstance(values, pd.Series | pd.Index):
        lookup = values.astype(object).to_numpy()
    else:
        lookup = np.asarray(values if isinstance(values, np.ndarray) else list(values), object)
    return column.astype(object).isin(lookup).to_numpy(dtype=bool)


def _number(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _flag(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    return pd.Series(values).fillna(False).to_numpy(dtype=bool)


def _empty_ens(n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {k: np.full(n, None, dtype=object) for k in ENS_TEXT}
    out.update({k: np.full(n, np.nan) for k in ENS_NUMBER})
    out.update({k: np.zeros(n, dtype=bool) for k in ENS_FLAG})
    return out


def ens_content_keys(
    consignor: np.ndarray, consignee: np.ndarray, arrival: np.ndarray, itinerary: np.ndarray
) -> np.ndarray:
    """Content key of ENS filings (parties, expected arrival in seconds, itinerary): two
    filings with the same key carry the same consignment. None where consignor or
    consignee is missing: filings lacking the parties say nothing of being copies, and
    keying them would make them all duplicates of one another."""
    return np.array(
        [
            None if _missing(a) or _missing(b) else f"{a}|{b}|{c}|{d}"
            for a, b, c, d in zip(consignor, consignee, arrival, itinerary, strict=True)
        ],
        dtype=object,
    )


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def summarise_ens(
    n: int, decl_time: np.ndarray, filings: dict[str, np.ndarray], items: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per-declaration summary of the ENS versions filed before the declaration.

    ``filings`` rows carry ``row`` (the declaration they belong to), ``filing_id``,
    ``version``, ``filed_at`` (s), ``filing_type``, ``carrier_id``, ``carrier_aeo``,
    ``itinerary``, ``consignor_id``, ``consignee_id``, ``expected_arrival`` (s);
    ``items`` rows carry ``row``, ``version``, ``hs6``, ``gross_mass_kg``, ``containerised``.
    """
    out = _empty_ens(n)
    if len(filings["row"]) == 0:
        return out
    known = filings["filed_at"] < decl_time[filings["row"]]
    f = {k: v[known] for k, v in filings.items()}
    if len(f["row"]) == 0:
        return out
    order = np.lexsort((f["version"], f["row"]))
    f = {k: v[order] for k, v in f.items()}
    rows = f["row"]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)] - 1  # latest version of each declaration's ENS
    r = rows[starts]
    out["present"][r] = True
    out["first_filed"][r] = np.minimum.reduceat(f["filed_at"].astype(np.float64), starts)
    out["versions"][r] = np.diff(np.r_[starts, len(rows)])
    out["pre_loading"][r] = (
        np.maximum.reduceat((f["filing_type"] == "pre_loading").astype(np.int8), starts) > 0
    )
    for name in ("filing_id", "carrier_id", "itinerary", "consignor_id", "consignee_id"):
        out[name][r] = f[name][ends]
    out["carrier_aeo"][r] = f["carrier_aeo"][ends].astype(bool)
    out["expected_arrival"][r] = f["expected_arrival"][ends]
    # Content key of the first version: what a duplicate filing copies, known from the start.
    out["content_key"][r] = ens_content_keys(
        f["consignor_id"][starts],
        f["consignee_id"][starts],
        f["expected_arrival"][starts],
        f["itinerary"][starts],
    )
    latest_version = np.zeros(n, dtype=np.int64)
    latest_version[r] = f["version"][ends]
    it = items
    mine = (it["version"] == latest_version[it["row"]]) & out["present"][it["row"]]
    it = {k: v[mine] for k, v in it.items()}
    if len(it["row"]):
        gross = np.zeros(n)
        np.add.at(gross, it["row"], np.nan_to_num(it["gross_mass_kg"].astype(np.float64)))
        out["gross_mass_kg"][r] = gross[r]
        cont = np.zeros(n, dtype=bool)
        np.logical_or.at(cont, it["row"], it["containerised"].astype(bool))
        out["containerised"] = cont
        codes: dict[int, set[str]] = {}
        for row, hs6 in zip(it["row"].tolist(), it["hs6"].tolist(), strict=True):
            if hs6 is not None:
                codes.setdefault(row, set()).add(hs6)
        for row, found in codes.items():
            out["items_hs6"][row] = "|".join(sorted(found))
    return out


def _link_frames(
    decl_ens: np.ndarray, filings: pd.DataFrame, items: pd.DataFrame | None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Filing and item rows of each declaration's ENS, as numpy columns with ``row``."""
    links = pd.DataFrame({"row": np.arange(len(decl_ens)), "filing_id": decl_ens}).dropna()
    links["filing_id"] = links["filing_id"].astype(object)
    fcols = [
        "filing_id",
        "version",
        "filed_at",
        "filing_type",
        "carrier_id",
        "carrier_aeo",
        "itinerary",
        "consignor_id",
        "consignee_id",
        "expected_arrival",
    ]
    fr = filings[fcols].copy()
    fr["filing_id"] = fr["filing_id"].astype(object)
    merged = links.merge(fr, on="filing_id", how="inner")
    fdict = {
        "row": merged["row"].to_numpy(np.int64),
        "filing_id": _text(merged["filing_id"], len(merged)),
        "version": merged["version"].to_numpy(np.int64),
        "filed_at": to_seconds(merged["filed_at"]),
        "filing_type": _text(merged["filing_type"], len(merged)),
        "carrier_id": _text(merged["carrier_id"], len(merged)),
        "carrier_aeo": _flag(merged["carrier_aeo"], len(merged)),
        "itinerary": _text(merged["itinerary"], len(merged)),
        "consignor_id": _text(merged["consignor_id"], len(merged)),
        "consignee_id": _text(merged["consignee_id"], len(merged)),
        "expected_arrival": _number(
            to_seconds(merged["expected_arrival"]).astype(np.float64), len(merged)
        ),
    }
    fdict["expected_arrival"][merged["expected_arrival"].isna().to_numpy()] = np.nan
    if items is None or len(items) == 0:
        idict = {
            "row": np.zeros(0, np.int64),
            "version": np.zeros(0, np.int64),
            "hs6": np.zeros(0, object),
            "gross_mass_kg": np.zeros(0),
            "containerised": np.zeros(0, bool),
        }
        return fdict, idict
    ic = items[["filing_id", "version", "hs6", "gross_mass_kg", "containerised"]].copy()
    ic["filing_id"] = ic["filing_id"].astype(object)
    mi = links.merge(ic, on="filing_id", how="inner")
    idict = {
        "row": mi["row"].to_numpy(np.int64),
        "version": mi["version"].to_numpy(np.int64),
        "hs6": _text(mi["hs6"], len(mi)),
        "gross_mass_kg": _number(mi["gross_mass_kg"], len(mi)),
        "containerised": _flag(mi["containerised"], len(mi)),
    }
    return fdict, idict


def inputs_from_frames(
    declarations: pd.DataFrame,
    ens_filings: pd.DataFrame | None = None,
    ens_items: pd.DataFrame | None = None,
) -> Inputs:
    """Inputs from canonical frames (declarations, optionally their ENS tables)."""
    n = len(declarations)
    cols = declarations.columns
    text = {c: _text(declarations[c] if c in cols else None, n) for c in TEXT_COLUMNS}
    text.update({c: _text(declarations[c], n) for c in cols if c.startswith("extra_cat__")})
    number = {c: _number(declarations[c] if c in cols else None, n) for c in NUMBER_COLUMNS}
    number.update({c: _number(declarations[c], n) for c in cols if c.startswith("extra_num__")})
    flag = {c: _flag(declarations[c] if c in cols else None, n) for c in FLAG_COLUMNS}
    time = to_seconds(declarations["lodged_at"])
    ens = None
    if ens_filings is not None:
        fdict, idict = _link_frames(text["ens_id"], ens_filings, ens_items)
        ens = summarise_ens(n, time, fdict, idict)
    return Inputs(time=time, text=text, number=number, flag=flag, ens=ens)


def _record_time(value: Any) -> int:
    """Whole seconds since the epoch (floored) of a datetime or ISO 8601 text; naive
    times are UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = pd.Timestamp(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - EPOCH) // ONE_SECOND
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000_000)


EnsTables = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
FILING_FIELDS = (
    "row",
    "filing_id",
    "version",
    "filed_at",
    "filing_type",
    "carrier_id",
    "carrier_aeo",
    "itinerary",
    "consignor_id",
    "consignee_id",
    "expected_arrival",
)
FILING_TYPES = (
    np.int64,
    object,
    np.int64,
    np.int64,
    object,
    object,
    bool,
    object,
    object,
    object,
    np.float64,
)
ITEM_FIELDS = ("row", "version", "hs6", "gross_mass_kg", "containerised")
ITEM_TYPES = (np.int64, np.int64, object, np.float64, bool)


def records_ens_tables(records: list[dict[str, Any]]) -> EnsTables:
    """The embedded ENS versions and items of declaration dicts as numpy columns, each
    row tagged with its declaration's position (``row``); times in seconds."""
    f_rows: list[tuple] = []
    i_rows: list[tuple] = []
    for row, rec in enumerate(records):
        embedded = rec.get("ens") or {}
        for v in embedded.get("versions", []):
            arrival = v.get("expected_arrival")
            f_rows.append(
                (
                    row,
                    v["filing_id"],
                    int(v.get("version", 1)),
                    _record_time(v["filed_at"]),
                    v.get("filing_type"),
                    v.get("carrier_id"),
                    bool(v.get("carrier_aeo") or False),
                    v.get("itinerary"),
                    v.get("consignor_id"),
                    v.get("consignee_id"),
                    np.nan if arrival is None else float(_record_time(arrival)),
                )
            )
        for it in embedded.get("items", []):
            mass = it.get("gross_mass_kg")
            i_rows.append(
                (
                    row,
                    int(it.get("version", 1)),
                    it.get("hs6"),
                    np.nan if mass is None else float(mass),
                    bool(it.get("containerised") or False),
                )
            )
    fcols = list(zip(*f_rows, strict=True)) if f_rows else [[] for _ in FILING_FIELDS]
    icols = list(zip(*i_rows, strict=True)) if i_rows else [[] for _ in ITEM_FIELDS]
    fdict = {
        k: np.array(v, dtype=t) for k, v, t in zip(FILING_FIELDS, fcols, FILING_TYPES, strict=True)
    }
    idict = {
        k: np.array(v, dtype=t) for k, v, t in zip(ITEM_FIELDS, icols, ITEM_TYPES, strict=True)
    }
    return fdict, idict


def inputs_from_records(
    records: list[dict[str, Any]], with_ens: bool, ens_tables: EnsTables | None = None
) -> Inputs:
    """Inputs from canonical declaration dicts; ``ens`` (optional) embeds the filing:
    ``{"versions": [filing dicts], "items": [item dicts with "version"]}``.
    ``ens_tables``: ``records_ens_tables(records)`` when the caller has it already."""
    n = len(records)
    text = {c: np.array([r.get(c) for r in records], dtype=object) for c in TEXT_COLUMNS}
    extra_cat = sorted({k for r in records for k in r if k.startswith("extra_cat__")})
    extra_num = sorted({k for r in records for k in r if k.startswith("extra_num__")})
    for c in extra_cat:
        text[c] = np.array([r.get(c) for r in records], dtype=object)
    number = {
        c: np.array([np.nan if r.get(c) is None else float(r[c]) for r in records])
        for c in (*NUMBER_COLUMNS, *extra_num)
    }
    flag = {c: np.array([bool(r.get(c) or False) for r in records]) for c in FLAG_COLUMNS}
    time = np.array([_record_time(r["lodged_at"]) for r in records], dtype=np.int64)
    ens = versions = None
    if with_ens:
        versions, idict = ens_tables if ens_tables is not None else records_ens_tables(records)
        ens = summarise_ens(n, time, versions, idict)
    return Inputs(time=time, text=text, number=number, flag=flag, ens=ens, versions=versions)
