"""Operator and goods profiles: activity and control history of every entity key.

For each key (importer, declarant, seller, carrier, office, origin, HS2/HS4/HS6, the
pairs importer x declarant, importer x seller, HS6 x origin, the route, and any extra
categorical attribute) and each row, as of the row's own time (strictly before it):

- activity (declarations of the entity): counts in the last 30/90/365 days, value in
  the last 365 days, distinct partners active in the last 365 days, and its age:
  ``days_since_first`` capped at ``age_cap_days``, with ``seen_before_history`` set
  when the entity first appears in the first ``history_grace_days`` of the fitted
  history and its activity since does not rule out that it was there before, silent
  (it may be older: we cannot tell, so the age reads as the cap; ``_censored``). No activity
  feature grows with the age of the history: a row whose entities first appear inside
  two histories gets the same activity features from both;
- control history (results known before the time): controls, hits and revenue
  recovered in the last ``label_window_days``, a hit rate with exponential time decay
  (``hit_rate``) and one without (``hit_rate_all``), both smoothed toward the parent
  level (HS6 -> HS4 -> HS2 -> global; HS6 x origin -> HS6; others -> global) with a
  prior strength per key fitted by empirical Bayes (features/smoothing.py). The
  strengths are fitted at ``fit`` per ``strength_period_days`` period of the history,
  each from the results known before the period began, and a row uses its period's
  (a row past the history, the last period's): so no row's features depend on its own
  or a later result even through the strengths, and ``update`` never refits them.

Extra categorical attributes with few distinct values (``max_category_codes``) keep their
control history but get no activity profile (a national code with three values is
traffic volume, not an entity); their raw codes go to the models through
``features.categories``.

``transform`` gives every row point-in-time statistics from the full state (training,
scoring, serving); ``cross_fit_transform`` gives the fitted history's own rows label
statistics cross-fitted by time block (see there).

All keys share one stacked event index per kind (code space offset per key), so a
batch of any size is answered by a few binary searches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from features.blocks import ControlEvents, EnsEvents, State
from features.categories import MAX_CODES, small_categoricals
from features.crossfit import reference_times, time_blocks
from features.events import EventIndex
from features.growable import Buffers
from features.history import result_known_at
from features.inputs import Inputs
from features.keys import key_codes
from features.layered import LayeredIndex, Positions
from features.partners import pair_spells
from features.smoothing import DEFAULT_BOUNDS, fit_prior_strength, smooth
from features.timebase import DAY, period_of, period_start
from features.vocab import Vocabulary

DECAY_BASE = 1_577_836_800  # 2020-01-01: decay weights are exp((t - base) / tau)
CODE_ROOM = 64  # codes each key gets beyond twice its vocabulary (see _build)


@dataclass(frozen=True)
class KeySpec:
    """An entity key and what is profiled for it."""

    name: str
    activity: bool
    parent: str | None = None
    partners: tuple[tuple[str, str], ...] = ()  # (label, pair key): distinct partners
    needs_ens: bool = False


BASE_KEYS: tuple[KeySpec, ...] = (
    KeySpec(
        "importer",
        True,
        partners=(("sellers", "importer_seller"), ("declarants", "importer_declarant")),
    ),
    KeySpec("declarant", True, partners=(("importers", "importer_declarant"),)),
    KeySpec("seller", True, partners=(("importers", "importer_seller"),)),
    KeySpec("carrier", True, needs_ens=True),
    KeySpec("office", False),
    KeySpec("origin", False),
    KeySpec("hs2", False),
    KeySpec("hs4", False, parent="hs2"),
    KeySpec("hs6", False, parent="hs4"),
    KeySpec("hs6_origin", True, parent="hs6"),
    KeySpec("importer_declarant", True),
    KeySpec("importer_seller", True),
    KeySpec("route", False, needs_ens=True),
)
PAIR_KEYS = ("importer_seller", "importer_declarant")
SILENCE_EVIDENCE = 3.0  # -ln(5 %): see ProfileBlock._censored
MIN_SILENCE_DAYS = 7
# Label statistics of every key, in output order (see ProfileBlock._label_stats).
LABEL_STATS = ("controls", "hits", "log_revenue", "hit_rate", "hit_rate_all")


@dataclass(frozen=True)
class ProfileConfig:
    """Windows, decay, smoothing and cross-fitting of the profiles.

    ``smoothing`` fixes the prior strength of the hit rates: one number for every key,
    or a mapping key -> strength (keys left out are fitted); None (the default) fits
    every key's strength by empirical Bayes within ``smoothing_bounds``, with a weak
    log-normal hyperprior around ``fallback_smoothing`` (``strength_prior_sd`` on the
    log scale; None for plain maximum likelihood), falling back to
    ``fallback_smoothing`` where too few entities have two controls or more.
    """

    windows_days: tuple[int, ...] = (30, 90, 365)
    decay_days: float = 365.0
    smoothing: float | Mapping[str, float] | None = None
    smoothing_bounds: tuple[float, float] = DEFAULT_BOUNDS
    fallback_smoothing: float = 20.0
    strength_prior_sd: float | None = 2.3  # ln 10: a tenfold move needs real evidence
    prior_rate: float = 0.02
    label_window_days: int = 365
    age_cap_days: int = 365
    history_grace_days: int = 30
    cross_fit_folds: int = 5
    max_category_codes: int = MAX_CODES
    strength_period_days: int = 30

    def to_state(self) -> State:
        """Plain values (JSON) of every field."""
        out: State = {f.name: getattr(self, f.name) for f in fields(self)}
        out["windows_days"] = list(self.windows_days)
        out["smoothing_bounds"] = list(self.smoothing_bounds)
        if isinstance(self.smoothing, Mapping):
            out["smoothing"] = {k: float(v) for k, v in self.smoothing.items()}
        return out

    @classmethod
    def from_state(cls, state: State) -> ProfileConfig:
        values = dict(state)
        values["windows_days"] = tuple(values["windows_days"])
        values["smoothing_bounds"] = tuple(values["smoothing_bounds"])
        if isinstance(values["smoothing"], Mapping):
            values["smoothing"] = {k: float(v) for k, v in values["smoothing"].items()}
        return cls(**values)

    def fixed_strength(self, key: str) -> float | None:
        """The prior strength fixed for ``key``, None when it is to be fitted."""
        if isinstance(self.smoothing, Mapping):
            value = self.smoothing.get(key)
            return None if value is None else float(value)
        return None if self.smoothing is None else float(self.smoothing)


def _at_least(a: np.ndarray | Positions, b: np.ndarray | Positions) -> np.ndarray | Positions:
    """The later of two positions of the same queries (per level for a layered index)."""
    if isinstance(a, Positions) and isinstance(b, Positions):
        return Positions(tuple(np.maximum(x, y) for x, y in zip(a.parts, b.parts, strict=True)))
    return np.maximum(a, b)


class ProfileBlock:
    """Activity and control-history profiles of every entity key."""

    name = "profiles"

    def __init__(self, config: ProfileConfig | None = None) -> None:
        self.config = config or ProfileConfig()
        self.keys_: list[KeySpec] = []
        self.dropped_: dict[str, str] = {}

    # ----- fitting -------------------------------------------------------------------
    def _choose_keys(self, inputs: Inputs) -> None:
        keys = list(BASE_KEYS)
        small = set(small_categoricals(inputs, self.config.max_category_codes))
        keys += [KeySpec(c, c not in small) for c in inputs.extra_categoricals]
        if inputs.ens is None:
            self.dropped_ = {
                f"profiles:{k.name}": "no ENS data: carrier and route profiles need ENS filings"
                for k in keys
                if k.needs_ens
            }
            keys = [k for k in keys if not k.needs_ens]
        self.keys_ = keys
        self.__dict__.pop("capacity_", None)  # a refit indexes its facts afresh
        self.all_key_names_ = [k.name for k in keys] + [
            p for p in PAIR_KEYS if p not in {k.name for k in keys}
        ]
        self.vocab_ = {name: Vocabulary() for name in self.all_key_names_}
        self.codes_ = np.zeros((0, len(self.all_key_names_)), dtype=np.int64)
        self.time_ = np.zeros(0, dtype=np.int64)
        self.value_ = np.zeros(0)
        self.ctrl_row_ = np.zeros(0, dtype=np.int64)
        self.ctrl_time_ = np.zeros(0, dtype=np.int64)
        self.ctrl_hit_ = np.zeros(0)
        self.ctrl_revenue_ = np.zeros(0)

    def _append(self, inputs: Inputs, controls: ControlEvents) -> None:
        cols = []
        for name in self.all_key_names_:
            cols.append(key_codes(inputs, name, self.vocab_[name], add=True))
        n_old, c_old = len(self.time_), len(self.ctrl_row_)
        grow = self._grow()
        self.codes_ = grow.extend("codes", self.codes_, np.column_stack(cols))
        self.time_ = grow.extend("time", self.time_, inputs.time)
        value = np.nan_to_num(inputs.number["customs_value_rc"])
        self.value_ = grow.extend("value", self.value_, value)
        self.ctrl_row_ = grow.extend("ctrl_row", self.ctrl_row_, controls.row)
        self.ctrl_time_ = grow.extend("ctrl_time", self.ctrl_time_, controls.time)
        self.ctrl_hit_ = grow.extend("ctrl_hit", self.ctrl_hit_, controls.hit)
        self.ctrl_revenue_ = grow.extend("ctrl_revenue", self.ctrl_revenue_, controls.revenue)
        if self._fits():
            self._fold(n_old, c_old)
        else:
            self._build()

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        """Learn the keys, the history's span and the prior strengths; index the facts."""
        self._choose_keys(inputs)
        self._append(inputs, controls)
        self.fit_rows_ = inputs.n
        self.history_start_ = int(inputs.time.min()) if inputs.n else 0
        known = result_known_at(self.ctrl_time_, self.time_[self.ctrl_row_])
        last = max(int(inputs.time.max()) if inputs.n else 0, int(known.max()) if len(known) else 0)
        self.history_end_ = last + 1
        self._fit_strength_periods(known)

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        """Fold new facts in; the prior strengths and the history's start stay as fitted."""
        self._append(inputs, controls)

    def prior_strengths(self) -> dict[str, float]:
        """Prior strength of every key's hit rates that scoring uses now (the last fitted
        period's: fitted, or fixed by the config), for the training log."""
        last = self.strength_table_[-1]
        return {k.name: float(m) for k, m in zip(self.keys_, last, strict=True)}

    def fitted_parameters(self) -> dict[str, float]:
        """What ``fit`` learned from the data beyond the facts, flat: ``prior_strength.KEY``."""
        return {f"prior_strength.{k}": m for k, m in self.prior_strengths().items()}

    # ----- event indices -------------------------------------------------------------
    # Built in full by fit and set_state, and whenever a vocabulary outgrows the block of
    # codes its key was given (``capacity_``: twice its size plus some room, so that codes
    # stay put while folds add entities); otherwise folds add only the new events
    # (``LayeredIndex``). Either way the indices hold the same events.
    def _grow(self) -> Buffers:
        if "_buffers" not in self.__dict__:
            self._buffers = Buffers()
        return self._buffers

    def _fits(self) -> bool:
        capacity = getattr(self, "capacity_", None)
        return capacity is not None and all(
            len(self.vocab_[n]) <= capacity[n] for n in self.all_key_names_
        )

    def _col(self, name: str) -> int:
        return self.all_key_names_.index(name)

    def _offsets(self, names: list[str]) -> np.ndarray:
        sizes = np.array([self.capacity_[n] for n in names], dtype=np.int64)
        return np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def _stack(self, names: list[str], rows: np.ndarray | slice) -> np.ndarray:
        """Codes of ``names`` for the registry rows, shifted into one code space."""
        codes = self.codes_[rows][:, [self._col(n) for n in names]]
        offsets = self._offsets(names)
        return np.where(codes >= 0, codes + offsets, -1)

    def _build(self) -> None:
        """(Re)build the event indices from the registry: deterministic in the facts."""
        self.capacity_ = {n: 2 * len(self.vocab_[n]) + CODE_ROOM for n in self.all_key_names_}
        self.activity_names_ = [k.name for k in self.keys_ if k.activity]
        # Distinct partners active in the longest window: activity spells of each pair,
        # keyed by the entity (features/partners.py).
        self.partner_names_ = [
            (key.name, label, pair) for key in self.keys_ for label, pair in key.partners
        ]
        # Control history of every key, plus one global key.
        self.control_names_ = [key.name for key in self.keys_]
        self.global_code_ = int(sum(self.capacity_[nm] for nm in self.control_names_))
        if self.global_code_ >= 2**31:
            raise ValueError("profile vocabularies exceed the 2**31 codes an event key holds")
        self._layout()
        everything = slice(None)
        self.activity_ = LayeredIndex(*self._activity_events(everything))
        self._build_partners()
        self.controls_ = LayeredIndex(*self._control_events(everything))

    def _fold(self, n_old: int, c_old: int) -> None:
        """Add the events of the rows from ``n_old`` and of the results from ``c_old``."""
        self.activity_.fold(*self._activity_events(slice(n_old, None)))
        self._fold_partners(n_old)
        self.controls_.fold(*self._control_events(slice(c_old, None)))

    def refresh(self) -> None:
        """Merge the events folded in since the last merge into the indices' base, and
        the vocabularies' recent values into their lookup tables."""
        for index in (self.activity_, self.partners_, self.controls_):
            index.merge()
        for vocab in self.vocab_.values():
            vocab.compact()

    def _activity_events(self, rows: slice) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        act = self._stack(self.activity_names_, rows)
        k = len(self.activity_names_)
        time, value = self.time_[rows], self.value_[rows]
        return act.T.ravel(), np.tile(time, k), {"value": np.tile(value, k)}

    def _control_events(
        self, results: slice | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Events of the selected control results (a slice or a mask), for every key and
        the global key."""
        rows = self.ctrl_row_[results]
        hit = self.ctrl_hit_[results]
        ctrl = self._stack(self.control_names_, rows)
        m = len(self.control_names_) + 1
        codes = np.concatenate([ctrl.T.ravel(), np.full(len(rows), self.global_code_)])
        known = result_known_at(self.ctrl_time_[results], self.time_[rows])
        w = np.exp((known - DECAY_BASE) / (self.config.decay_days * DAY))
        values = {
            "hit": np.tile(hit, m),
            "revenue": np.tile(self.ctrl_revenue_[results], m),
            "w": np.tile(w, m),
            "wh": np.tile(w * hit, m),
        }
        return codes, np.tile(known, m), values

    def _control_index(self, select: np.ndarray) -> EventIndex:
        """Event index of the selected control results, built in full (cross-fitting, a
        training-time computation; scoring reads the layered ``controls_``)."""
        return EventIndex(*self._control_events(select))

    # ----- partner spells ------------------------------------------------------------
    # Each pair key keeps, per pair code, the row where its current (latest) activity
    # spell started (``pair_spell_``, -1 for unseen pairs) and the time of its last
    # declaration (``pair_last_``). ``partner_starts_`` holds a start event per spell,
    # ``partner_ends_`` an end event per spell with weight ``w`` = +1; a fold that
    # extends a pair's current spell cancels its old end with a -1 event at the same
    # time and adds the new end, so the ends counted before any time are exactly those
    # of a refit. A row earlier than its pair's last declaration rebuilds them (rare).
    def _pairs(self) -> list[str]:
        return sorted({pair for _, _, pair in self.partner_names_})

    def _window(self) -> int:
        return int(max(self.config.windows_days) * DAY)

    def _build_partners(self) -> None:
        """Spells of every pair from the whole registry, and both partner indices."""
        self.pair_spell_: dict[str, np.ndarray] = {}
        self.pair_last_: dict[str, np.ndarray] = {}
        spells: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for pair in self._pairs():
            codes, start_rows, last_rows = pair_spells(
                self.codes_[:, self._col(pair)], self.time_, self._window()
            )
            current = np.r_[codes[1:] != codes[:-1], True] if len(codes) else codes > 0
            spell = np.full(len(self.vocab_[pair]), -1, dtype=np.int64)
            last = np.full(len(self.vocab_[pair]), -1, dtype=np.int64)
            spell[codes[current]] = start_rows[current]
            last[codes[current]] = self.time_[last_rows[current]]
            self.pair_spell_[pair], self.pair_last_[pair] = spell, last
            ends = self.time_[last_rows] + self._window()
            spells[pair] = (start_rows, start_rows, ends)
        starts, ends = self._partner_events(spells, {})
        self.partner_starts_ = LayeredIndex(*starts)
        self.partner_ends_ = LayeredIndex(*ends)

    def _fold_partners(self, n_old: int) -> None:
        """Open or extend the spells of the pairs met from row ``n_old``."""
        opened: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        changed: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for pair in self._pairs():
            step = self._fold_pair(pair, n_old)
            if step is None:  # a row before its pair's last one: spells may merge
                self._build_partners()
                return
            opened[pair], changed[pair] = step
        starts, ends = self._partner_events(opened, changed)
        self.partner_starts_.fold(*starts)
        self.partner_ends_.fold(*ends)

    def _fold_pair(
        self, pair: str, n_old: int
    ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None:
        """The spells that the rows from ``n_old`` open, as (start row, owner row, end),
        and the end events they move, as (owner row, time, weight); None when a row comes
        before its pair's last declaration (not a fold of this kind)."""
        size = len(self.vocab_[pair])
        grow = self._grow()
        spell, last = self.pair_spell_[pair], self.pair_last_[pair]
        spell = grow.extend(f"spell:{pair}", spell, np.full(size - len(spell), -1))
        last = grow.extend(f"last:{pair}", last, np.full(size - len(last), -1))
        self.pair_spell_[pair], self.pair_last_[pair] = spell, last
        none = np.zeros(0, np.int64)
        codes = self.codes_[n_old:, self._col(pair)]
        rows = np.arange(n_old, len(self.time_))[codes >= 0]
        codes = codes[codes >= 0]
        if not len(codes):
            return (none, none, none), (none, none, none)
        order = np.lexsort((rows, self.time_[rows], codes))
        codes, rows = codes[order], rows[order]
        times = self.time_[rows]
        head = np.r_[True, codes[1:] != codes[:-1]]
        known = head & (spell[codes] >= 0)
        if np.any(times[known] < last[codes[known]]):
            return None
        window = self._window()
        gap = np.diff(times, prepend=0) > window
        gap[head] = ~known[head] | (times[head] - last[codes[head]] > window)
        # Segments: runs of rows of one pair without a break; ``new`` opens a spell, a
        # segment starting with a known pair's row otherwise extends its current spell.
        begins = np.flatnonzero(head | gap)
        ends_at = np.r_[begins[1:], len(codes)] - 1
        opens = gap[begins]
        seg_code = codes[begins]
        owner_row = np.where(opens, rows[begins], spell[seg_code])
        end_time = times[ends_at] + window
        extended = seg_code[~opens]
        moved = (
            np.r_[spell[extended], spell[extended]],
            np.r_[last[extended] + window, end_time[~opens]],
            np.r_[np.full(len(extended), -1.0), np.ones(len(extended))],
        )
        opened = (rows[begins[opens]], owner_row[opens], end_time[opens])
        tail = np.r_[seg_code[1:] != seg_code[:-1], True]
        spell[seg_code[tail]] = owner_row[tail]
        last[seg_code[tail]] = times[ends_at[tail]]
        return opened, moved

    def _partner_events(
        self,
        opened: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
        moved: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> tuple[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]], ...]:
        """Start and end events of every partner relation: the spells ``opened`` per pair
        (start row, owner row, end time: start +1, end +1) and the end events ``moved``
        (owner row, time, weight)."""
        none = np.zeros(0, np.int64)
        s_codes, s_times = [none], [none]
        e_codes, e_times, e_w = [none], [none], [np.zeros(0)]
        for j, (owner, _, pair) in enumerate(self.partner_names_):
            col, offset = self._col(owner), self.partner_offsets_[j]

            def owner_codes(rows: np.ndarray, col: int = col, offset: int = offset) -> np.ndarray:
                found = self.codes_[rows, col]
                return np.where(found >= 0, found + offset, -1)

            if pair in opened:
                start_rows, owner_rows, end_times = opened[pair]
                s_codes.append(owner_codes(owner_rows))
                s_times.append(self.time_[start_rows])
                e_codes.append(owner_codes(owner_rows))
                e_times.append(end_times)
                e_w.append(np.ones(len(end_times)))
            if pair in moved:
                owner_rows, times, weights = moved[pair]
                e_codes.append(owner_codes(owner_rows))
                e_times.append(times)
                e_w.append(weights)
        starts = (np.concatenate(s_codes), np.concatenate(s_times), {})
        ends = (np.concatenate(e_codes), np.concatenate(e_times), {"w": np.concatenate(e_w)})
        return starts, ends

    # ----- prior strengths (empirical Bayes) ----------------------------------------
    def _fit_strength_periods(self, known: np.ndarray) -> None:
        """Strengths of every period of the history (epoch-anchored grid), each fitted on
        the results known before the period's start."""
        days = self.config.strength_period_days
        first = int(period_of(self.history_start_, days))
        last = int(period_of(self.history_end_ - 1, days))
        starts = period_start(np.arange(first, last + 1), days)
        self.strength_first_period_ = first
        self.strength_table_ = np.vstack([self._fit_strengths(known < s) for s in starts])

    def _row_strengths(self, t: np.ndarray) -> np.ndarray:
        """Strengths (rows x keys) of each row's period; past the history, the last one."""
        period = period_of(t, self.config.strength_period_days) - self.strength_first_period_
        return self.strength_table_[np.clip(period, 0, len(self.strength_table_) - 1)]

    def _fit_strengths(self, select: np.ndarray) -> np.ndarray:
        """Prior strength of every key (``keys_`` order) from the selected control results:
        fixed by the config, or fitted (beta-binomial marginal likelihood) on the entities'
        undecayed (controls, hits) against their parent's smoothed rate, parents first."""
        cfg = self.config
        rows, hit = self.ctrl_row_[select], self.ctrl_hit_[select]
        global_rate = (hit.sum() + cfg.prior_rate) / (len(hit) + 1.0)
        strengths = np.empty(len(self.keys_))
        entity_rate: dict[int, np.ndarray] = {}
        for level in self.levels_:
            for j in level:
                name = self.keys_[j].name
                codes = self.codes_[rows, self._col(name)]
                ok = codes >= 0
                size = len(self.vocab_[name])
                n = np.bincount(codes[ok], minlength=size).astype(np.float64)
                h = np.bincount(codes[ok], weights=hit[ok], minlength=size)
                parent = np.full(size, global_rate)
                if self.parent_[j] < len(self.keys_):
                    up = self.parent_[j]
                    up_codes = self.codes_[rows, self._col(self.keys_[up].name)]
                    link = ok & (up_codes >= 0)
                    parent[codes[link]] = entity_rate[up][up_codes[link]]
                m = cfg.fixed_strength(name)
                if m is None:
                    prior = (
                        None
                        if cfg.strength_prior_sd is None
                        else (cfg.fallback_smoothing, cfg.strength_prior_sd)
                    )
                    m = fit_prior_strength(n, h, parent, cfg.smoothing_bounds, prior)
                strengths[j] = cfg.fallback_smoothing if m is None else m
                entity_rate[j] = smooth(h, n, parent, strengths[j])
        return strengths

    # ----- transform -----------------------------------------------------------------
    def feature_names(self) -> list[str]:
        return list(self.names_)

    def _names(self) -> list[str]:
        names: list[str] = []
        for key in self.keys_:
            if key.activity:
                names += [f"{key.name}__n{w}d" for w in self.config.windows_days]
                names += [
                    f"{key.name}__days_since_first",
                    f"{key.name}__seen_before_history",
                    f"{key.name}__log_value_365d",
                ]
            names += [f"{key.name}__partners_{label}" for label, _ in key.partners]
            names += [f"{key.name}__{stat}" for stat in LABEL_STATS]
        return names

    def _layout(self) -> None:
        """Output column of every computed quantity, so transform writes matrices at once."""
        self.names_ = self._names()
        col = {name: j for j, name in enumerate(self.names_)}
        act = self.activity_names_
        self.out_windows_ = [
            np.array([col[f"{k}__n{w}d"] for k in act], dtype=np.intp)
            for w in self.config.windows_days
        ]
        self.out_since_ = np.array([col[f"{k}__days_since_first"] for k in act], dtype=np.intp)
        self.out_seen_before_ = np.array(
            [col[f"{k}__seen_before_history"] for k in act], dtype=np.intp
        )
        self.out_value_ = np.array([col[f"{k}__log_value_365d"] for k in act], dtype=np.intp)
        self.out_partners_ = np.array(
            [col[f"{o}__partners_{label}"] for o, label, _ in self.partner_names_], dtype=np.intp
        )
        ctl = self.control_names_
        self.out_labels_ = [
            np.array([col[f"{k}__{stat}"] for k in ctl], dtype=np.intp) for stat in LABEL_STATS
        ]
        # Smoothing order: parents before children; a key without parent uses the global rate.
        position = {k.name: j for j, k in enumerate(self.keys_)}
        parent = np.array([position.get(k.parent, len(self.keys_)) for k in self.keys_])
        levels, done = [], {len(self.keys_)}
        while len(done) <= len(self.keys_):
            level = [j for j in range(len(self.keys_)) if j not in done and parent[j] in done]
            levels.append(np.array(level, dtype=np.intp))
            done |= set(level)
        self.parent_, self.levels_ = parent, levels
        names = self.all_key_names_
        self.act_cols_ = np.array([names.index(k) for k in act], dtype=np.intp)
        self.act_offsets_ = self._offsets(act)
        self.partner_cols_ = np.array(
            [names.index(o) for o, _, _ in self.partner_names_], dtype=np.intp
        )
        owners = [o for o, _, _ in self.partner_names_]
        self.partner_offsets_ = self._offsets(owners) if owners else np.zeros(0, np.int64)
        self.ctl_cols_ = np.array([names.index(k) for k in ctl], dtype=np.intp)
        self.ctl_offsets_ = self._offsets(ctl)

    def nullable(self) -> set[str]:
        return set()

    def dropped(self) -> dict[str, str]:
        return dict(self.dropped_)

    @staticmethod
    def _shift(codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        return np.where(codes >= 0, codes + offsets, -1)

    def _raw_codes(self, inputs: Inputs) -> np.ndarray:
        raw = np.empty((inputs.n, len(self.all_key_names_)), dtype=np.int64)
        for j, name in enumerate(self.all_key_names_):
            raw[:, j] = key_codes(inputs, name, self.vocab_[name])
        return raw

    def _control_codes(self, raw: np.ndarray) -> np.ndarray:
        """Codes of every key in the control index's code space, the global key last."""
        k = len(self.ctl_cols_)
        cc = np.empty((len(raw), k + 1), dtype=np.int64)
        cc[:, :k] = self._shift(raw[:, self.ctl_cols_], self.ctl_offsets_)
        cc[:, k] = self.global_code_
        return cc

    def _activity_into(self, out: np.ndarray, raw: np.ndarray, t: np.ndarray) -> None:
        """Activity features (declarations only, no label) of the rows as of their time."""
        cfg = self.config
        tt = t[:, None]
        # Activity: counts per window, value over the longest, first appearance.
        act = self._shift(raw[:, self.act_cols_], self.act_offsets_)
        order = self.activity_.order(act, tt)
        starts = [tt - w * DAY for w in cfg.windows_days]
        hi, *lows = self.activity_.positions_at(act, [tt, *starts], order)
        for cols, w, lo in zip(self.out_windows_, cfg.windows_days, lows, strict=True):
            out[:, cols] = hi - lo
            if w == max(cfg.windows_days):
                out[:, self.out_value_] = np.log1p(self.activity_.total("value", lo, hi))
        first = self.activity_.starts_of(act)
        first_time = self.activity_.first_times(first, hi)
        seen = first_time >= 0
        # Age capped, and read as the cap when the entity may predate the history.
        censored = self._censored(first_time, hi - first, tt)
        age = np.minimum((tt - first_time) / DAY, cfg.age_cap_days)
        out[:, self.out_since_] = np.where(seen, np.where(censored, cfg.age_cap_days, age), -1.0)
        out[:, self.out_seen_before_] = seen & censored
        if len(self.partner_cols_):
            pc = self._shift(raw[:, self.partner_cols_], self.partner_offsets_)
            zero = np.zeros_like(tt)
            order = self.partner_starts_.order(pc, tt)  # the same queries for both indices
            lo, hi = self.partner_starts_.bounds(pc, zero, tt, order)
            lo_end, hi_end = self.partner_ends_.bounds(pc, zero, tt, order)
            ended = self.partner_ends_.total("w", lo_end, hi_end)
            out[:, self.out_partners_] = (hi - lo) - ended

    def _censored(self, first_time: np.ndarray, count: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether an entity's age is unknown: first seen in the history's first
        ``history_grace_days``, and not provably new. New means silent for at least
        ``MIN_SILENCE_DAYS`` after the start (a weekly cycle explains less) and, at the
        entity's rate since, count / (t - start), a silence that long has a probability
        exp(-rate * (first - start)) below exp(-SILENCE_EVIDENCE) (5 %). A burst starting
        in the first weeks reads as new after a few declarations; a slow or steady entity
        seen from the start stays censored."""
        start = self.history_start_
        early = first_time < start + self.config.history_grace_days * DAY
        gap = first_time - start
        silent = (gap >= MIN_SILENCE_DAYS * DAY) & (
            count * gap >= SILENCE_EVIDENCE * np.maximum(t - start, 1)
        )
        return early & ~silent

    def _smooth_levels(
        self, hits: np.ndarray, trials: np.ndarray, strengths: np.ndarray
    ) -> np.ndarray:
        """Rates of every key smoothed toward its parent's (global key last), parents first;
        ``strengths`` per key, or per row and key. Computed level by level on the inputs
        transposed (one contiguous row per key)."""
        k = len(self.ctl_cols_)
        hits, trials = np.ascontiguousarray(hits.T), np.ascontiguousarray(trials.T)
        m = strengths.T if strengths.ndim == 2 else strengths[:, None]
        rates = np.empty(hits.shape)
        rates[k] = (hits[k] + self.config.prior_rate) / (trials[k] + 1.0)
        for level in self.levels_:
            parent = rates[self.parent_[level]]
            rates[level] = smooth(hits[level], trials[level], parent, m[level])
        return rates[:k].T

    def _label_stats(
        self,
        index: EventIndex | LayeredIndex,
        cc: np.ndarray,
        ref: np.ndarray,
        strengths: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """``LABEL_STATS`` of the rows from the results in ``index`` known before ``ref``:
        counts and revenue over the label window, the decayed and the undecayed rate
        over all of them, both smoothed with ``strengths``. One implementation for
        point-in-time (``ref`` = the row's time) and cross-fitted statistics."""
        cfg = self.config
        k = cc.shape[1] - 1
        tt = ref[:, None]
        order = index.order(cc, tt)
        lo, hi = index.bounds(cc, np.zeros_like(tt), tt, order)
        lo_w = _at_least(index.positions(cc, tt - cfg.label_window_days * DAY, order), lo)
        decay = np.exp(-(tt - DECAY_BASE) / (cfg.decay_days * DAY))
        w = index.total("w", lo, hi) * decay
        wh = index.total("wh", lo, hi) * decay
        trials = (hi - lo).astype(np.float64)
        # Both rates in one pass: the decayed rows on top of the undecayed ones.
        m = np.vstack([strengths, strengths]) if strengths.ndim == 2 else strengths
        rates = self._smooth_levels(
            np.vstack([wh, index.total("hit", lo, hi)]), np.vstack([w, trials]), m
        )
        n = len(cc)
        return (
            (hi - lo_w)[:, :k],
            index.total("hit", lo_w, hi)[:, :k],
            np.log1p(index.total("revenue", lo_w, hi)[:, :k]),
            rates[:n],
            rates[n:],
        )

    def transform(self, inputs: Inputs) -> np.ndarray:
        """Point-in-time features of any rows from the full state (scoring and serving)."""
        out = np.empty((inputs.n, len(self.names_)), dtype=np.float32)
        raw = self._raw_codes(inputs)
        self._activity_into(out, raw, inputs.time)
        stats = self._label_stats(
            self.controls_, self._control_codes(raw), inputs.time, self._row_strengths(inputs.time)
        )
        for cols, values in zip(self.out_labels_, stats, strict=True):
            out[:, cols] = values
        return out

    # ----- cross-fitted training features ---------------------------------------------
    def cross_fit_transform(self, inputs: Inputs) -> np.ndarray:
        """Training features of the fitted history's own rows (``inputs`` as fitted, in
        order), their label statistics cross-fitted by time block.

        The rows are cut into ``cross_fit_folds`` blocks of lodging time. A row of block b
        gets ``LABEL_STATS`` from the results of the other blocks only (past and future
        ones), with prior strengths fitted on those results alone, read as a scoring row
        would read them at the row's reference time (``features.crossfit``: the end of
        the label window nearest to the row; the history's end when the history is no
        longer than the window). Activity features stay point-in-time.

        Why: a point-in-time training row early in the history sees few labels, a scoring
        row sees the whole history's; cross-fitted rows see about (K-1)/K of it, like
        scoring rows. Why it is not leakage: the row's own result, and every result of
        its block, are left out of everything its features are computed from (counts,
        rates, parents' rates, prior strengths), so they cannot encode its label (tested
        by flipping them); the other blocks' results, future ones included, are facts
        about other declarations, as in scikit-learn's TargetEncoder, which also makes
        ``fit_transform`` differ from ``fit(X).transform(X)``. What it does give up is
        point-in-time realism: a row may be described by results known only after it, so
        these features are for fitting models, never for evaluating them as served.
        """
        fitted = self.time_[: self.fit_rows_]
        if inputs.n != self.fit_rows_ or not np.array_equal(inputs.time, fitted):
            raise ValueError(
                "cross_fit_transform takes the fitted history's own rows, in order"
                f" ({self.fit_rows_} rows); use transform for any other rows"
            )
        out = np.empty((inputs.n, len(self.names_)), dtype=np.float32)
        raw = self._raw_codes(inputs)
        self._activity_into(out, raw, inputs.time)
        cc = self._control_codes(raw)
        block = time_blocks(inputs.time, self.config.cross_fit_folds)
        window = self.config.label_window_days * DAY
        ref = reference_times(inputs.time, self.history_start_, self.history_end_, window)
        in_history = self.ctrl_row_ < self.fit_rows_
        ctrl_block = np.full(len(self.ctrl_row_), -1, dtype=np.int64)
        ctrl_block[in_history] = block[self.ctrl_row_[in_history]]
        for b in range(self.config.cross_fit_folds):
            rows = np.flatnonzero(block == b)
            if not len(rows):
                continue
            others = in_history & (ctrl_block != b)
            stats = self._label_stats(
                self._control_index(others), cc[rows], ref[rows], self._fit_strengths(others)
            )
            for cols, values in zip(self.out_labels_, stats, strict=True):
                out[np.ix_(rows, cols)] = values
        return out

    # ----- state ---------------------------------------------------------------------
    def get_state(self) -> State:
        return {
            "config": self.config.to_state(),
            "strengths": {
                "first_period": self.strength_first_period_,
                "table": np.asarray(self.strength_table_, dtype=np.float64),
            },
            "history": {
                "fit_rows": self.fit_rows_,
                "start": self.history_start_,
                "end": self.history_end_,
            },
            "keys": [
                {
                    "name": k.name,
                    "activity": k.activity,
                    "parent": k.parent,
                    "partners": [list(p) for p in k.partners],
                    "needs_ens": k.needs_ens,
                }
                for k in self.keys_
            ],
            "all_key_names": list(self.all_key_names_),
            "dropped": dict(self.dropped_),
            "vocab": {name: self.vocab_[name].values for name in self.all_key_names_},
            "codes": self.codes_,
            "time": self.time_,
            "value": self.value_,
            "ctrl_row": self.ctrl_row_,
            "ctrl_time": self.ctrl_time_,
            "ctrl_hit": self.ctrl_hit_,
            "ctrl_revenue": self.ctrl_revenue_,
        }

    def set_state(self, state: State) -> None:
        self.config = ProfileConfig.from_state(state["config"])
        self.strength_first_period_ = int(state["strengths"]["first_period"])
        self.strength_table_ = np.asarray(state["strengths"]["table"], dtype=np.float64)
        self.fit_rows_ = int(state["history"]["fit_rows"])
        self.history_start_ = int(state["history"]["start"])
        self.history_end_ = int(state["history"]["end"])
        self.keys_ = [
            KeySpec(
                k["name"],
                k["activity"],
                k["parent"],
                tuple(tuple(p) for p in k["partners"]),
                k["needs_ens"],
            )
            for k in state["keys"]
        ]
        self.all_key_names_ = list(state["all_key_names"])
        self.dropped_ = dict(state["dropped"])
        self.vocab_ = {name: Vocabulary(state["vocab"][name]) for name in self.all_key_names_}
        self.codes_ = np.asarray(state["codes"], dtype=np.int64)
        self.time_ = np.asarray(state["time"], dtype=np.int64)
        self.value_ = np.asarray(state["value"], dtype=np.float64)
        self.ctrl_row_ = np.asarray(state["ctrl_row"], dtype=np.int64)
        self.ctrl_time_ = np.asarray(state["ctrl_time"], dtype=np.int64)
        self.ctrl_hit_ = np.asarray(state["ctrl_hit"], dtype=np.float64)
        self.ctrl_revenue_ = np.asarray(state["ctrl_revenue"], dtype=np.float64)
        self._build()
