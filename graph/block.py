"""``GraphBlock``: the party network as a ``features.blocks.FeatureBlock``.

Fitting rebuilds the snapshot grid (``features.timebase``): snapshot ``p`` is the
graph of the declarations lodged, and the control results known, strictly before
``period_start(p)``; periods run from the one after the earliest fact to the one after
the latest (that last one, "everything known", serves any later time). ``transform``
gives each row the snapshot of its own period, clipped to that range (the empty world
before it), so a row never sees its own period's facts and a state fitted on the
history before a row gives it the same features as the full state.

``update`` appends the new facts and marks the snapshots after the earliest of them
stale (usually only the last one, "everything known", which rows of the next period
read); ``transform`` recomputes stale snapshots when a row first needs one, and
``refresh`` does it ahead of time. The snapshots kept plus those recomputed equal a
full fit on the concatenated history (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from features.blocks import ControlEvents, EnsEvents, State
from features.inputs import Inputs
from features.timebase import period_of, period_start
from features.vocab import Vocabulary
from graph.algorithms import Algorithms, check_backend
from graph.config import GraphConfig
from graph.edges import EdgeTable
from graph.records import ControlLedger
from graph.registry import PartyRegistry, role_ids
from graph.schema import FEATURES, feature_names, feature_roles, prior_row
from graph.snapshot import snapshot_features, structure
from graph.tables import FeatureTables

NOT_FITTED = "This GraphBlock is not fitted yet. Call fit (or set_state) beforehand."
NO_ENS = "no ENS data at fit: consignee-consignor and carrier edges and carrier features left out"


Snapshot = tuple[int, np.ndarray, np.ndarray, np.ndarray]  # period, prior, node codes, rows
PeriodMapper = Callable[[Callable[[Any, Any], Any], list[Any], Any], Iterable[Any]]


def snapshot_run(
    periods: list[int], shared: tuple[EdgeTable, ControlLedger, GraphConfig]
) -> list[Snapshot]:
    """The snapshots of consecutive periods whose pairs do not change: the structure
    (components, communities, PageRank) once, the records of each period on it."""
    edges, ledger, config = shared
    algorithms = Algorithms(config.backend)
    shape = structure(edges.at(periods[0], config.window_periods), config, algorithms)
    n_nodes, n_pairs = shape.edges.n_nodes, len(shape.edges.a)
    out = []
    for period in periods:
        records = ledger.at(int(period_start(period, config.period_days)), n_nodes, n_pairs)
        rows = snapshot_features(shape, records, config, algorithms)
        prior = prior_row(records.global_rate, config.max_distance)
        out.append((period, prior, edges.node_code[:n_nodes], rows))
    return out


def map_in_process(fn: Callable[[Any, Any], Any], items: list[Any], shared: Any) -> list[Any]:
    """``fn(item, shared)`` for each item, here, in order."""
    return [fn(item, shared) for item in items]


class GraphBlock:
    """Degree, neighbourhood hit rates, PageRank, components, communities, distance."""

    name = "graph"

    def __init__(self, config: GraphConfig | None = None) -> None:
        self.config = config if config is not None else GraphConfig()

    # ----- learning ------------------------------------------------------------------
    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None) -> None:
        """Build every snapshot from a history (ENS edges come with ``inputs.ens``)."""
        check_backend(self.config.backend)  # an uninstalled backend is refused before any work
        self.with_ens_ = inputs.ens is not None
        registry = PartyRegistry.empty()
        registry.append(inputs, controls, self.with_ens_)
        self.registry_ = registry
        self.tables_ = self._compute(None, keep_before=None)
        self.stale_from_: int | None = None  # first period whose snapshot is out of date
        self.final_: int | None = None  # the grid's end once no pair is left to leave

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None) -> None:
        """Append rows and results; the snapshots after the earliest are marked stale and
        recomputed when a transformed row first needs one (or on ``refresh``)."""
        self._check_fitted()
        n_old, c_old = self.registry_.n_rows, len(self.registry_.control_row)
        self.registry_.append(inputs, controls, self.with_ens_)
        new_facts = np.concatenate(
            [self.registry_.time[n_old:], self.registry_.control_known_at(c_old)]
        )
        if len(new_facts) == 0:
            return
        self.final_ = None
        keep_before = int(period_of(int(new_facts.min()), self.config.period_days)) + 1
        stale = self.stale_from_
        self.stale_from_ = keep_before if stale is None else min(stale, keep_before)

    def refresh(self, mapper: PeriodMapper | None = None) -> None:
        """Compute the snapshots that facts appended since the last computation change;
        ``mapper`` runs the runs of periods elsewhere (a Dask cluster's workers), the same
        snapshots in any order."""
        self._check_fitted()
        if self.stale_from_ is not None:
            self.tables_ = self._compute(self.tables_, self.stale_from_, mapper=mapper)
            self.stale_from_ = None

    def _compute(
        self,
        old: FeatureTables | None,
        keep_before: int | None,
        until: int | None = None,
        mapper: PeriodMapper | None = None,
    ) -> FeatureTables:
        """Tables on the current grid; snapshots before ``keep_before`` taken from ``old``.

        The grid ends one period past the latest fact, or at ``until`` when later (rows
        queried there: pairs keep leaving the graph as their window passes), but never
        past the period where the last pair has left, after which nothing changes."""
        config, registry = self.config, self.registry_
        n_codes = len(registry.vocab)
        edges = EdgeTable.build(registry, config.period_days)
        ledger = ControlLedger.build(registry, edges)
        facts = np.concatenate([registry.time, ledger.time])
        if len(facts) == 0:
            return FeatureTables.empty(0, 0, n_codes, config.max_distance)
        first = int(period_of(int(facts.min()), config.period_days)) + 1
        last = int(period_of(int(facts.max()), config.period_days)) + 1
        if until is not None:
            last = max(last, min(until, last + config.window_periods))
        n_snapshots = last - first + 1
        if old is None or keep_before is None:
            tables = FeatureTables.empty(first, n_snapshots, n_codes, config.max_distance)
            start = first
        else:
            tables = old.regrid(first, n_snapshots, n_codes, keep_before, config.max_distance)
            start = max(first, keep_before)
        runs: list[list[int]] = []  # consecutive periods sharing one structure
        for period in range(start, last + 1):
            if not runs or edges.changes(period, config.window_periods):
                runs.append([period])
            else:
                runs[-1].append(period)
        for snapshots in (mapper or map_in_process)(snapshot_run, runs, (edges, ledger, config)):
            for period, prior, codes, rows in snapshots:
                tables.write(period, prior, codes, rows)
        return tables

    def _reach(self, period: int) -> None:
        """Extend the grid to ``period`` (a row lodged past it): the snapshots there
        differ from the last one only by the pairs whose window has passed."""
        tables = self.tables_
        grid_last = tables.first_period + tables.n_snapshots - 1
        if period <= grid_last or tables.n_snapshots == 0 or self.final_ == grid_last:
            return
        self.tables_ = self._compute(tables, grid_last + 1, until=period)
        reached = self.tables_.first_period + self.tables_.n_snapshots - 1
        if reached < period:  # every pair has left: later snapshots equal this one
            self.final_ = reached

    # ----- serving -------------------------------------------------------------------
    def transform(self, inputs: Inputs) -> np.ndarray:
        """Features of each row from the snapshot of its period: lookups only."""
        self._check_fitted()
        stale = self.stale_from_
        days = self.config.period_days
        if inputs.n:
            latest = int(period_of(inputs.time, days).max())
            if stale is not None and latest >= stale:
                self.refresh()
            self._reach(latest)
        roles = feature_roles(self.with_ens_)
        width = len(FEATURES)
        out = np.empty((inputs.n, width * len(roles)), dtype=np.float32)
        slots = self.tables_.slots(inputs.time, self.config.period_days)
        ids = np.concatenate([role_ids(inputs, role) for role in roles])
        codes = self.registry_.vocab.codes(ids).reshape(len(roles), inputs.n)
        # Parties met since the tables were computed had no facts in any current snapshot.
        codes = np.where(codes < self.tables_.n_codes, codes, -1)
        for i in range(len(roles)):
            out[:, i * width : (i + 1) * width] = self.tables_.lookup(slots, codes[i])
        return out

    def feature_names(self) -> list[str]:
        """``graph__{importer,declarant,seller[,carrier]}__{feature}``."""
        self._check_fitted()
        return feature_names(self.with_ens_)

    def nullable(self) -> set[str]:
        """None: unseen parties get priors, never NaN."""
        return set()

    def dropped(self) -> dict[str, str]:
        """The ENS-derived edges and carrier features when fitted without ENS."""
        self._check_fitted()
        return {} if self.with_ens_ else {"graph:ens": NO_ENS}

    # ----- state ---------------------------------------------------------------------
    def get_state(self) -> State:
        """Config, party ids, per-row party codes, control events and the tables."""
        self.refresh()
        registry = self.registry_
        return {
            "config": self.config.to_dict(),
            "with_ens": bool(self.with_ens_),
            "parties": registry.vocab.values,
            "row_time": registry.time,
            "row_parties": registry.parties,
            "control_row": registry.control_row,
            "control_time": registry.control_time,
            "control_hit": registry.control_hit,
            "first_period": int(self.tables_.first_period),
            "tables": self.tables_.values,
        }

    def set_state(self, state: State) -> None:
        """Restore from ``get_state`` (the saved config replaces the constructor's)."""
        self.config = GraphConfig.from_dict(dict(state["config"]))
        self.with_ens_ = bool(state["with_ens"])
        self.registry_ = PartyRegistry(
            vocab=Vocabulary(np.asarray(state["parties"], dtype=object)),
            time=np.asarray(state["row_time"], dtype=np.int64),
            parties=np.asarray(state["row_parties"], dtype=np.int32),
            control_row=np.asarray(state["control_row"], dtype=np.int64),
            control_time=np.asarray(state["control_time"], dtype=np.int64),
            control_hit=np.asarray(state["control_hit"], dtype=np.float64),
        )
        values = np.ascontiguousarray(state["tables"], dtype=np.float32)
        self.tables_ = FeatureTables(int(state["first_period"]), values)
        self.stale_from_ = None
        self.final_ = None

    def _check_fitted(self) -> None:
        """Raise the actionable not-fitted error before any use of the state."""
        if not hasattr(self, "tables_"):
            raise RuntimeError(NOT_FITTED)
