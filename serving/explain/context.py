"""What the reason texts compare each declaration with: the fitted state as of its time.

``build_context`` gathers, for a batch of rows and in a few vectorised lookups, the
same baselines the features were computed from (valuation snapshots of the row's
period, the global control hit rate of the profiles, route and chapter counts, the
graph snapshot's global rate), plus the row's own inputs (parties, codes, route,
declared amounts). Any part that cannot be computed (a block absent from the model,
no inputs, a state of another layout) is left as NaN/None: texts then fall back to
the generic wording, never fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.inputs import Inputs
from features.keys import key_values
from features.profiles import DECAY_BASE
from features.timebase import DAY, period_of
from features.valuation import STACK
from graph.schema import COLUMN

logger = logging.getLogger("serving.explain")

# Baselines of the valuation block, in its own stack order (see features.valuation.STACK).
KG_KINDS = ("hs6_origin", "hs6", "hs4", "importer_hs6")
# Row text fields the texts use: (context name, inputs.text column).
TEXT_FIELDS = {
    "importer": "importer_id",
    "declarant": "declarant_id",
    "seller": "seller_id",
    "origin": "origin_country",
    "dispatch": "dispatch_country",
    "office": "office",
    "mode": "transport_mode",
    "preference": "preference",
    "hs_code": "hs_code",
}
ENS_FIELDS = ("carrier_id", "itinerary", "items_hs6", "consignor_id", "consignee_id", "filing_id")


@dataclass
class ExplainContext:
    """Per-row facts and baselines of a batch (arrays of length ``n``)."""

    names: list[str]
    features: np.ndarray  # (n, F) as the model saw them
    n: int
    time: np.ndarray  # int64 seconds, -1 when unknown
    text: dict[str, np.ndarray] = field(default_factory=dict)  # object arrays, None if missing
    number: dict[str, np.ndarray] = field(default_factory=dict)  # float64, NaN if missing
    median: dict[str, np.ndarray] = field(default_factory=dict)  # baseline medians, linear
    base_count: dict[str, np.ndarray] = field(default_factory=dict)  # rows behind each median
    min_count: int = 3
    max_distance: int = 4

    def __post_init__(self) -> None:
        self.column = {name: j for j, name in enumerate(self.names)}

    @property
    def has_inputs(self) -> bool:
        """Whether the rows' own inputs (parties, codes, amounts) are known."""
        return bool(self.text)

    def feature(self, name: str, i: int) -> float:
        """The model input ``name`` of row ``i`` (NaN when the model has no such feature)."""
        j = self.column.get(name)
        return float(self.features.item(i, j)) if j is not None else float("nan")

    def s(self, name: str, i: int) -> str | None:
        """A text field of row ``i`` (None when missing)."""
        values = self.text.get(name)
        value = None if values is None else values[i]
        return value if isinstance(value, str) and value else None

    def x(self, name: str, i: int) -> float:
        """A number of row ``i`` (NaN when missing)."""
        values = self.number.get(name)
        return float("nan") if values is None else float(values.item(i))

    def baseline(self, kind: str, i: int) -> tuple[float, float]:
        """(median, count) of a baseline kind for row ``i``; NaN median when unknown."""
        med = self.median.get(kind)
        cnt = self.base_count.get(kind)
        if med is None or cnt is None:
            return float("nan"), 0.0
        return float(med[i]), float(cnt[i])


def _block(pipeline: Any, name: str) -> Any:
    for block in getattr(pipeline, "blocks", []):
        if getattr(block, "name", None) == name:
            return block
    return None


def _row_text(ctx: ExplainContext, inputs: Inputs) -> None:
    n = inputs.n
    for name, column in TEXT_FIELDS.items():
        ctx.text[name] = inputs.text.get(column, np.full(n, None, dtype=object))
    hs = ctx.text["hs_code"]
    for size in (2, 4, 6):
        ctx.text[f"hs{size}"] = np.array(
            [h[:size] if isinstance(h, str) and len(h) >= size else None for h in hs], dtype=object
        )
    ens = inputs.ens
    for name in ENS_FIELDS:
        short = name.removesuffix("_id") if name != "filing_id" else "filing"
        if ens is None:
            ctx.text[short] = np.full(n, None, dtype=object)
        else:
            ctx.text[short] = np.where(ens["present"], ens[name], None)
    route = ctx.text["itinerary"]
    ctx.text["route"] = route
    ctx.text["loading"] = np.array(
        [r.split("-")[0] if isinstance(r, str) and r else None for r in route], dtype=object
    )
    for name in inputs.extra_categoricals:
        ctx.text[name] = inputs.text[name]
    num = inputs.number
    value, mass, units = num["customs_value_rc"], num["net_mass_kg"], num["supplementary_units"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ctx.number["uv_kg"] = np.where(mass > 0, value / mass, np.nan)
        ctx.number["uv_unit"] = np.where(units > 0, value / units, np.nan)
    ctx.number.update(value=value, mass=mass, units=units, duty=num["duty_rate"])
    for name in inputs.extra_numerics:
        ctx.number[name] = num[name]
    gross = ens["gross_mass_kg"] if ens is not None else np.full(n, np.nan)
    ctx.number["gross_mass"] = np.asarray(gross, dtype=np.float64)
    ctx.number["first_filed"] = (
        np.asarray(ens["first_filed"], dtype=np.float64) if ens is not None else np.full(n, np.nan)
    )
    for flag in ("importer_aeo", "declarant_aeo"):
        ctx.number[flag] = inputs.flag[flag].astype(np.float64)
    if ens is not None:
        ctx.number["carrier_aeo"] = np.where(ens["present"], ens["carrier_aeo"], np.nan)


def _valuation(ctx: ExplainContext, block: Any, inputs: Inputs) -> None:
    """Medians (as EUR per kg/unit, duty as a fraction) and counts, as ``transform`` saw them."""
    ctx.min_count = int(block.config.min_count)
    snap = period_of(inputs.time, block.config.period_days) - block.first_period_
    snap = np.minimum(snap, block.stack_median_.shape[0] - 1)
    row = np.where(snap >= 0, snap, 0)
    for j, (name, key, _) in enumerate(STACK):
        codes = block.vocab_[key].codes(key_values(inputs, key))
        valid = (snap >= 0) & (codes >= 0) & (codes < block.stack_widths_[j])
        idx = np.where(valid, codes + block.stack_offsets_[j], 0)
        med = np.where(valid, block.stack_median_[row, idx], np.nan).astype(np.float64)
        cnt = np.where(valid, block.stack_count_[row, idx], 0.0).astype(np.float64)
        kind = name.removeprefix("uv_")
        ctx.median[kind] = med if name == "duty_hs6" else np.exp(med)
        ctx.base_count[kind] = cnt
    hs4 = block.vocab_["hs4"].codes(key_values(inputs, "hs4"))
    table = block.hs4_max_duty_
    ok = (snap >= 0) & (hs4 >= 0) & (hs4 < table.shape[1])
    top = table[np.where(ok, snap, 0), np.where(ok, hs4, 0)]
    ctx.number["hs4_max_duty"] = np.where(ok, top, np.nan).astype(np.float64)


def _profiles(ctx: ExplainContext, block: Any, inputs: Inputs) -> None:
    """The global control hit rate (decayed, as the profiles smooth toward it)."""
    t = inputs.time
    cfg = block.config
    codes = np.full(inputs.n, block.global_code_, dtype=np.int64)
    lo, hi = block.controls_.bounds(codes, np.zeros_like(t), t)
    decay = np.exp(-(t - DECAY_BASE) / (cfg.decay_days * DAY))
    w = block.controls_.total("w", lo, hi) * decay
    wh = block.controls_.total("wh", lo, hi) * decay
    ctx.number["global_rate"] = (wh + cfg.prior_rate) / (w + 1.0)
    ctx.number["global_controls"] = (hi - lo).astype(np.float64)
    ctx.number["global_hits"] = block.controls_.total("hit", lo, hi)


def _route(ctx: ExplainContext, block: Any, inputs: Inputs) -> None:
    """Earlier declarations of the row's HS chapter, and of the chapter on its route."""
    if not getattr(block, "with_ens_", False) or inputs.ens is None:
        return
    t = inputs.time
    present = inputs.ens["present"]
    hs2 = block.vocab_["hs2"].codes(np.where(present, key_values(inputs, "hs2"), None))
    pair = block.vocab_["hs2_route"].codes(key_values(inputs, "hs2_route"))
    ctx.number["chapter_count"] = block.hs2_index_.count(hs2, np.zeros_like(t), t)
    ctx.number["route_count"] = block.hs2_route_index_.count(pair, np.zeros_like(t), t)


def _graph(ctx: ExplainContext, block: Any, inputs: Inputs) -> None:
    """The global hit rate of the row's graph snapshot (what unknown parties get)."""
    ctx.max_distance = int(block.config.max_distance)
    tables = block.tables_
    slots = tables.slots(inputs.time, block.config.period_days)
    prior = tables.values[slots, tables.n_codes, COLUMN["hit_rate_1hop"]]
    ctx.number["graph_global_rate"] = prior.astype(np.float64)


def build_context(
    pipeline: Any, names: list[str], features: np.ndarray, inputs: Inputs | None
) -> ExplainContext:
    """The context of a scored batch; parts that fail are logged and left empty."""
    features = np.asarray(features)
    n = features.shape[0]
    time = inputs.time if inputs is not None else np.full(n, -1, dtype=np.int64)
    ctx = ExplainContext(names=list(names), features=features, n=n, time=time)
    if inputs is None or inputs.n != n:
        return ctx
    steps = (
        ("inputs", lambda: _row_text(ctx, inputs)),
        ("valuation", lambda: _valuation(ctx, _block(pipeline, "valuation"), inputs)),
        ("profiles", lambda: _profiles(ctx, _block(pipeline, "profiles"), inputs)),
        ("route", lambda: _route(ctx, _block(pipeline, "route"), inputs)),
        ("graph", lambda: _graph(ctx, _block(pipeline, "graph"), inputs)),
    )
    for label, step in steps:
        try:
            step()
        except Exception as exc:  # a missing block or another state layout: generic texts
            logger.debug("explanation context: %s unavailable (%s)", label, exc)
    return ctx
