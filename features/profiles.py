"""Operator and goods profiles: activity and control history of every entity key.

For each key (importer, declarant, seller, carrier, office, origin, HS2/HS4/HS6, the
pairs importer x declarant, importer x seller, HS6 x origin, the route, and any extra
categorical attribute) and each row, as of the row's own time (strictly before it):

- activity (declarations of the entity): counts in the last 30/90/365 days, days since
  first seen (capped at ``age_cap_days``, with a flag for entities already active when
  the history began, whose real age is unknown), value in the last 365 days, distinct
  partners;
- control history (results known before the time): controls, hits and revenue recovered
  in the last ``control_window_days``; a hit rate over the same window and one over all
  results with exponential time decay, each smoothed toward the parent level
  (HS6 -> HS4 -> HS2 -> global; HS6 x origin -> HS6; others -> global).

Counts are windowed and ages capped so that a feature's distribution does not drift
with the age of the history: a model trained on nine months of history and serving in
its second year sees the same scale. The smoothing strength of each key type (how many
controls an entity needs before its own rate outweighs its parent's) is a setting
(``ProfileConfig.strengths``, else ``smoothing``): training estimates it by empirical
Bayes from the results of its training window (``estimated_strengths``, beta-binomial
method of moments) and every pipeline of the run, the bundle's included, uses that one
value. It is a hyperparameter, not a fact: folds never change it, and the point-in-time
rule (a row's features use only facts before it) holds for any fixed value.

All keys share one stacked event index per kind (code space offset per key), so a
batch of any size is answered by a few binary searches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from features.blocks import ControlEvents, EnsEvents, State
from features.growable import Buffers
from features.history import result_known_at
from features.inputs import Inputs
from features.keys import key_codes
from features.layered import LayeredIndex
from features.timebase import DAY
from features.vocab import Vocabulary

DECAY_BASE = 1_577_836_800  # 2020-01-01: decay weights are exp((t - base) / tau)
PartnerEvent = tuple[np.ndarray, np.ndarray, np.ndarray]  # entity codes, times, values
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


@dataclass(frozen=True)
class ProfileConfig:
    """Windows, decay and smoothing of the profiles."""

    windows_days: tuple[int, ...] = (30, 90, 365)
    decay_days: float = 365.0
    smoothing: float = 20.0  # strength of a key type without one in ``strengths``
    prior_rate: float = 0.02
    strengths: tuple[tuple[str, float], ...] = ()  # (key, strength): see estimated_strengths
    strength_bounds: tuple[float, float] = (1.0, 1000.0)
    control_window_days: int = 365  # window of the control counts and the undecayed rate
    partner_window_days: int = 365  # distinct partners are counted over this window
    age_cap_days: float = 365.0  # days since first seen are capped here
    censor_days: float = 30.0  # first seen this close to the history start: age unknown


def eb_strength(
    entity: np.ndarray, hit: np.ndarray, parent_rate: np.ndarray, bounds: tuple[float, float]
) -> float:
    """Empirical-Bayes prior strength m of one key type from its control results.

    Each entity's true rate is taken as Beta-distributed around its parent's rate p with
    strength m, so its n results with h hits have E[n (h/n - p)^2] = p (1 - p)(n + m)/(m + 1).
    Summing over entities and solving for m gives the method-of-moments estimate
    m = (A - S) / (S - B), with S = sum n (h/n - p)^2, A = sum p (1 - p) n and
    B = sum p (1 - p). No spread beyond the binomial noise (S <= B) gives the upper bound:
    the parent's rate is trusted; a spread as large as the noise of single results gives
    the lower bound. ``entity`` holds one non-negative code per result, ``parent_rate`` p.
    """
    low, high = bounds
    keep = entity >= 0
    if not keep.any():
        return high
    entity, hit, p = entity[keep], hit[keep], np.clip(parent_rate[keep], 1e-6, 1 - 1e-6)
    _, slot = np.unique(entity, return_inverse=True)
    n = np.bincount(slot).astype(np.float64)
    h = np.bincount(slot, weights=hit)
    pe = np.bincount(slot, weights=p) / n
    v = pe * (1.0 - pe)
    s, a, b = float(np.sum(n * (h / n - pe) ** 2)), float(np.sum(v * n)), float(np.sum(v))
    if s <= b:
        return high
    if s >= a:
        return low
    return float(np.clip((a - s) / (s - b), low, high))


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
        keys += [KeySpec(c, True) for c in inputs.extra_categoricals]
        if inputs.ens is None:
            self.dropped_ = {
                f"profiles:{k.name}": "no ENS data: carrier and route profiles need ENS filings"
                for k in keys
                if k.needs_ens
            }
            keys = [k for k in keys if not k.needs_ens]
        self.keys_ = keys
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
        self._choose_keys(inputs)
        self._append(inputs, controls)
        self.history_start_ = int(self.time_.min()) if len(self.time_) else 0
        self._set_strengths()

    def estimated_strengths(self, before: int) -> dict[str, float]:
        """Smoothing strength per key type, by empirical Bayes on the results known before
        ``before`` (seconds): each entity against its parent's pooled rate (the overall
        rate for keys without one). What ``ProfileConfig.strengths`` takes."""
        cfg = self.config
        known = result_known_at(self.ctrl_time_, self.time_[self.ctrl_row_]) < before
        rows, hit = self.ctrl_row_[known], self.ctrl_hit_[known]
        overall = float(hit.mean()) if len(hit) else cfg.prior_rate
        out = {}
        for key in self.keys_:
            p = np.full(len(rows), overall)
            if key.parent is not None:
                up = self.codes_[rows, self._col(key.parent)]
                ok = up >= 0
                if ok.any():
                    n = np.bincount(up[ok])
                    h = np.bincount(up[ok], weights=hit[ok], minlength=len(n))
                    p[ok] = h[up[ok]] / n[up[ok]]
            codes = self.codes_[rows, self._col(key.name)]
            out[key.name] = eb_strength(codes, hit, p, cfg.strength_bounds)
        return out

    def use_strengths(self, strengths: dict[str, float]) -> None:
        """Smooth with these strengths from now on (they change no fact of the state)."""
        pairs = tuple(sorted((str(k), float(v)) for k, v in strengths.items()))
        self.config = replace(self.config, strengths=pairs)
        self._set_strengths()

    def _set_strengths(self) -> None:
        given = dict(self.config.strengths)
        self.strength_ = {k.name: given.get(k.name, self.config.smoothing) for k in self.keys_}
        self.strength_vec_ = np.array([self.strength_[k.name] for k in self.keys_])

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        self._append(inputs, controls)

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
        # Distinct partners in a window: spells of each pair, keyed by the entity.
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
        self.pair_last_ = {pair: self._last_times(pair) for pair in self._pairs()}
        every = np.arange(len(self.time_))
        self.partners_ = LayeredIndex(
            *self._events([e for p in self._pairs() for e in self._spell_events(p, every, 1.0)])
        )
        self.controls_ = LayeredIndex(*self._control_events(everything))

    def _fold(self, n_old: int, c_old: int) -> None:
        """Add the events of the rows from ``n_old`` and of the results from ``c_old``."""
        events = [e for pair in self._pairs() for e in self._fold_pair(pair, n_old)]
        if events:
            self.partners_.fold(*self._events(events))
        self.activity_.fold(*self._activity_events(slice(n_old, None)))
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

    def _pairs(self) -> list[str]:
        return sorted({pair for _, _, pair in self.partner_names_})

    # A pair's row r counts for its owner at time t when time(r) < t <= end(r), with
    # end(r) = min(time(r) + W, time of the pair's next row): of the rows of a pair in
    # [t - W, t) exactly its last one counts, so the sum of +1 at every time(r) and -1 at
    # every end(r) over the events before t is the number of distinct partners with a
    # declaration in the window. A fold appends the new rows' spells and moves the end of
    # each pair's previous last row (an event cancelling the old end, one at the new); a
    # row earlier than its pair's last restates that pair (its old events cancelled, its
    # new ones added), so the index always sums to what a rebuild would hold.
    def _last_times(self, pair: str) -> np.ndarray:
        """Time of each pair's last declaration (-1 for none)."""
        codes = self.codes_[:, self._col(pair)]
        last = np.full(len(self.vocab_[pair]), -1, dtype=np.int64)
        ok = codes >= 0
        np.maximum.at(last, codes[ok], self.time_[ok])
        return last

    def _owner_events(
        self, pair: str, rows: np.ndarray, times: np.ndarray, value: float
    ) -> list[PartnerEvent]:
        """Events at ``times`` for the owners (of every partner count over ``pair``) of
        ``rows``, each worth ``value``."""
        out = []
        for j, (owner, _, p) in enumerate(self.partner_names_):
            if p != pair:
                continue
            oc = self.codes_[rows, self._col(owner)]
            codes = np.where(oc >= 0, oc + self.partner_offsets_[j], -1)
            out.append((codes, times, np.full(len(rows), value)))
        return out

    def _spell_events(self, pair: str, rows: np.ndarray, sign: float) -> list[PartnerEvent]:
        """Start and end events of the spells of ``rows`` (all the rows of their pairs:
        the next row of a pair is looked for among them), worth ``sign`` and ``-sign``."""
        codes = self.codes_[rows, self._col(pair)]
        rows, codes = rows[codes >= 0], codes[codes >= 0]
        pairs, which = np.unique(codes, return_inverse=True)
        speaker = np.zeros(len(pairs), dtype=np.int64)  # a row of each pair, for its owners
        speaker[which] = rows
        return self._owner_spells(pair, which, self.time_[rows], speaker, sign)

    def _owner_spells(
        self, pair: str, which: np.ndarray, times: np.ndarray, speaker: np.ndarray, sign: float
    ) -> list[PartnerEvent]:
        """The owners' events of the spells of pairs given as (which, time) rows, pair
        ``which`` speaking through registry row ``speaker[which]``: +``sign`` at each
        start, -``sign`` at each end."""
        w, t, v = self._spells(which, times)
        return [
            (codes, at, values * v * sign)
            for codes, at, values in self._owner_events(pair, speaker[w], t, 1.0)
        ]

    def _fold_pair(self, pair: str, n_old: int) -> list[PartnerEvent]:
        """Partner events of the rows of ``pair`` from ``n_old`` (see above). Called
        before the activity index takes the new rows: it still holds each pair's old
        rows, which a late row's restatement reads (the pair keys are activity keys)."""
        size = len(self.vocab_[pair])
        last = self.pair_last_[pair]
        last = self._grow().extend(f"last:{pair}", last, np.full(size - len(last), -1))
        self.pair_last_[pair] = last
        col = self.codes_[:, self._col(pair)]
        rows = n_old + np.flatnonzero(col[n_old:] >= 0)
        if not len(rows):
            return []
        codes, times = col[rows], self.time_[rows]
        events: list[PartnerEvent] = []
        late = times < last[codes]
        on_time = ~late
        if late.any():
            late[late] = ~self._inside_spells(pair, rows[late])  # the others change nothing
        if late.any():
            restated = np.unique(codes[late])
            events += self._restate(pair, rows, restated)
            on_time &= ~np.isin(codes, restated)
        if on_time.any():
            r = rows[on_time]
            order = np.lexsort((r, self.time_[r], col[r]))
            r = r[order]
            head = r[np.r_[True, col[r][1:] != col[r][:-1]]]
            before = last[col[head]]
            window = self.config.partner_window_days * DAY
            moved = (before >= 0) & (self.time_[head] < before + window)
            head, before = head[moved], before[moved]
            events += self._owner_events(pair, head, before + window, 1.0)
            events += self._owner_events(pair, head, self.time_[head], -1.0)
            events += self._spell_events(pair, r, 1.0)
        np.maximum.at(last, codes, times)
        return events

    def _activity_code(self, pair: str, codes: np.ndarray) -> np.ndarray:
        """Codes of ``pair`` in the activity index's code space (the pairs are activity
        keys: their rows are there)."""
        return codes + self.act_offsets_[self.activity_names_.index(pair)]

    def _inside_spells(self, pair: str, rows: np.ndarray) -> np.ndarray:
        """Whether each (late) row falls where its pair is counted anyway: an old row of
        the pair within half a window before it and one within half a window after, so
        the spells already run through its time without a break and it changes nothing
        (the usual late row of a busy pair; the others restate their pair)."""
        codes = self._activity_code(pair, self.codes_[rows, self._col(pair)])
        t = self.time_[rows]
        half = self.config.partner_window_days * DAY // 2
        before = self.activity_.count(codes, t - half, t + 1)
        after = self.activity_.count(codes, t + 1, t + half + 1)
        return (before > 0) & (after > 0)

    def _restate(self, pair: str, rows: np.ndarray, late: np.ndarray) -> list[PartnerEvent]:
        """Events replacing the spells of the ``late`` pairs (codes) by those of their old
        rows (read from the activity index) plus their new ``rows``."""
        which, old_times = self.activity_.times_of(self._activity_code(pair, late))
        col = self.codes_[rows, self._col(pair)]
        mine = np.isin(col, late)
        new_which = np.searchsorted(late, col[mine])
        all_which = np.concatenate([which, new_which])
        all_times = np.concatenate([old_times, self.time_[rows[mine]]])
        # one new row of each late pair stands for the pair's owners
        speaker = np.zeros(len(late), dtype=np.int64)
        speaker[new_which] = rows[mine]
        return self._owner_spells(pair, which, old_times, speaker, -1.0) + self._owner_spells(
            pair, all_which, all_times, speaker, 1.0
        )

    def _spells(self, which: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, ...]:
        """Start (+1) and end (-1) events of the spells of pairs given as (which, time)
        rows: (which, time, value)."""
        order = np.lexsort((times, which))
        which, t = which[order], times[order]
        window = self.config.partner_window_days * DAY
        same = np.r_[which[1:] == which[:-1], False]
        end = np.minimum(t + window, np.where(same, np.r_[t[1:], 0], t + window))
        live = end > t
        which, t, end = which[live], t[live], end[live]
        return (
            np.concatenate([which, which]),
            np.concatenate([t, end]),
            np.r_[np.ones(len(t)), -np.ones(len(t))],
        )

    @staticmethod
    def _events(parts: list[PartnerEvent]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Concatenated (codes, times, {"v": values}) of event parts."""
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), {"v": np.zeros(0)}
        codes, times, values = zip(*parts, strict=True)
        return (
            np.concatenate(codes),
            np.concatenate(times).astype(np.int64),
            {"v": np.concatenate(values)},
        )

    # ----- transform -----------------------------------------------------------------
    def feature_names(self) -> list[str]:
        return list(self.names_)

    def _names(self) -> list[str]:
        names: list[str] = []
        for key in self.keys_:
            if key.activity:
                names += [f"{key.name}__n{w}d" for w in self.config.windows_days]
                names += [f"{key.name}__days_since_first", f"{key.name}__log_value_365d"]
                names += [f"{key.name}__seen_before_history"]
            names += [f"{key.name}__partners_{label}" for label, _ in key.partners]
            names += [
                f"{key.name}__controls",
                f"{key.name}__hits",
                f"{key.name}__log_revenue",
                f"{key.name}__hit_rate",
                f"{key.name}__hit_rate_window",
            ]
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
        self.out_censored_ = np.array(
            [col[f"{k}__seen_before_history"] for k in act], dtype=np.intp
        )
        self.out_value_ = np.array([col[f"{k}__log_value_365d"] for k in act], dtype=np.intp)
        self.out_partners_ = np.array(
            [col[f"{o}__partners_{label}"] for o, label, _ in self.partner_names_], dtype=np.intp
        )
        ctl = self.control_names_
        self.out_controls_ = np.array([col[f"{k}__controls"] for k in ctl], dtype=np.intp)
        self.out_hits_ = np.array([col[f"{k}__hits"] for k in ctl], dtype=np.intp)
        self.out_revenue_ = np.array([col[f"{k}__log_revenue"] for k in ctl], dtype=np.intp)
        self.out_rate_ = np.array([col[f"{k}__hit_rate"] for k in ctl], dtype=np.intp)
        self.out_rate_window_ = np.array([col[f"{k}__hit_rate_window"] for k in ctl], dtype=np.intp)
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

    def _key_codes(self, inputs: Inputs) -> np.ndarray:
        """Code of every key of every row (-1 unseen or missing), (n, keys)."""
        raw = np.empty((inputs.n, len(self.all_key_names_)), dtype=np.int64)
        for j, name in enumerate(self.all_key_names_):
            raw[:, j] = key_codes(inputs, name, self.vocab_[name])
        return raw

    def transform(self, inputs: Inputs) -> np.ndarray:
        cfg = self.config
        n, t = inputs.n, inputs.time
        out = np.empty((n, len(self.names_)), dtype=np.float32)
        raw = self._key_codes(inputs)
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
        first_time = self.activity_.first_times(self.activity_.starts_of(act), hi)
        age = np.minimum((tt - first_time) / DAY, cfg.age_cap_days)
        out[:, self.out_since_] = np.where(first_time >= 0, age, -1.0)
        censor = self.history_start_ + cfg.censor_days * DAY
        out[:, self.out_censored_] = (first_time >= 0) & (first_time < censor)
        if len(self.partner_cols_):
            pc = self._shift(raw[:, self.partner_cols_], self.partner_offsets_)
            lo, hi = self.partners_.bounds(pc, np.zeros_like(tt), tt)
            out[:, self.out_partners_] = self.partners_.total("v", lo, hi)
        self._control_history(raw, tt, self.controls_, out)
        return out

    def _control_history(
        self, raw: np.ndarray, tt: np.ndarray, index: LayeredIndex, out: np.ndarray
    ) -> None:
        """Write the control-history columns of rows with key codes ``raw`` as of times
        ``tt`` (n, 1), read from the control events in ``index``: counts and an undecayed
        rate over the window, a decayed rate over all results; both smoothed through the
        parents."""
        cfg = self.config
        k = len(self.ctl_cols_)
        cc = np.empty((len(raw), k + 1), dtype=np.int64)
        cc[:, :k] = self._shift(raw[:, self.ctl_cols_], self.ctl_offsets_)
        cc[:, k] = self.global_code_
        order = index.order(cc, tt)
        lo, hi = index.bounds(cc, np.zeros_like(tt), tt, order)
        recent = index.positions(cc, tt - cfg.control_window_days * DAY, order)
        decay = np.exp(-(tt - DECAY_BASE) / (cfg.decay_days * DAY))
        w = index.total("w", lo, hi) * decay
        wh = index.total("wh", lo, hi) * decay
        controls = (hi - recent).astype(np.float64)
        hits = index.total("hit", recent, hi)
        out[:, self.out_controls_] = controls[:, :k]
        out[:, self.out_hits_] = hits[:, :k]
        out[:, self.out_revenue_] = np.log1p(index.total("revenue", recent, hi)[:, :k])
        out[:, self.out_rate_] = self._smoothed(wh, w)
        out[:, self.out_rate_window_] = self._smoothed(hits, controls)

    def transform_cross_fitted(self, inputs: Inputs, at: int, folds: int) -> np.ndarray:
        """Features of training rows whose control history is cross-fitted by time blocks.

        Point-in-time label statistics give a training row only the results before it,
        while a row scored after training sees them all: early rows learn from thin
        statistics the model never meets when serving. Here the rows are cut into
        ``folds`` blocks of equal size by lodging time; a row's control-history columns
        are those of a row scored at ``at`` (the end of the training labels) from the
        results known before ``at`` of every other block's declarations. A row never sees
        its own result nor any of its block's; it does see later blocks' results (the
        point of cross-fitting), so this is for training matrices only, never for rows
        that are evaluated. Activity columns stay point-in-time.
        """
        out = self.transform(inputs)
        if inputs.n == 0 or len(self.ctrl_row_) == 0:
            return out
        edges = np.quantile(inputs.time, np.linspace(0.0, 1.0, folds + 1)[1:-1])
        block_of_row = np.searchsorted(edges, inputs.time, side="right")
        result_time = self.time_[self.ctrl_row_]
        usable = result_known_at(self.ctrl_time_, result_time) < at
        block_of_result = np.searchsorted(edges, result_time, side="right")
        raw = self._key_codes(inputs)
        for block in range(folds):
            rows = np.flatnonzero(block_of_row == block)
            if not len(rows):
                continue
            others = np.flatnonzero(usable & (block_of_result != block))
            index = LayeredIndex(*self._control_events(others))
            part = out[rows]
            self._control_history(raw[rows], np.full((len(rows), 1), at, np.int64), index, part)
            out[rows] = part
        return out

    def _smoothed(self, hits: np.ndarray, controls: np.ndarray) -> np.ndarray:
        """Hit rates of every key, each shrunk toward its parent's (the last column is the
        global key, shrunk toward ``prior_rate`` with strength 1) by the key's strength."""
        k = len(self.ctl_cols_)
        rates = np.empty((len(hits), k + 1))
        rates[:, k] = (hits[:, k] + self.config.prior_rate) / (controls[:, k] + 1.0)
        m = self.strength_vec_
        for level in self.levels_:
            parent = rates[:, self.parent_[level]]
            rates[:, level] = (hits[:, level] + m[level] * parent) / (controls[:, level] + m[level])
        return rates[:, :k]

    # ----- state ---------------------------------------------------------------------
    def get_state(self) -> State:
        return {
            "config": {
                "windows_days": list(self.config.windows_days),
                "decay_days": self.config.decay_days,
                "smoothing": self.config.smoothing,
                "prior_rate": self.config.prior_rate,
                "strengths": [list(p) for p in self.config.strengths],
                "strength_bounds": list(self.config.strength_bounds),
                "control_window_days": self.config.control_window_days,
                "partner_window_days": self.config.partner_window_days,
                "age_cap_days": self.config.age_cap_days,
                "censor_days": self.config.censor_days,
            },
            "history_start": self.history_start_,
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
        c = state["config"]
        self.config = ProfileConfig(
            windows_days=tuple(c["windows_days"]),
            decay_days=c["decay_days"],
            smoothing=c["smoothing"],
            prior_rate=c["prior_rate"],
            strengths=tuple((str(k), float(v)) for k, v in c["strengths"]),
            strength_bounds=tuple(c["strength_bounds"]),
            control_window_days=c["control_window_days"],
            partner_window_days=c["partner_window_days"],
            age_cap_days=c["age_cap_days"],
            censor_days=c["censor_days"],
        )
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
        self.history_start_ = int(state["history_start"])
        self._set_strengths()
        self._build()
