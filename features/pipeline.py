"""``FeaturePipeline``: canonical declarations (+ ENS, + control results) -> float32 matrix.

scikit-learn's estimator contract: ``__init__`` stores parameters; ``fit`` learns state
(trailing underscore) and returns self; ``transform`` applies it. Every feature of a row
is computed as of the row's own timestamp from facts strictly before it (declarations
lodged, control results known, ENS filed), so the one ``transform`` gives leakage-free
training features for the fitted history itself and serving features for new rows:
``fit(X).transform(X) == fit_transform(X)`` by construction, and a state fitted on the
history before a row gives that row the same features as the full state. That
point-in-time rule is the temporal form of cross-fitting: no row sees its own label
or a later one.

Blocks (profiles, valuation, route, AEO; the party graph from ``graph`` plugged in by
the caller) each own their state; ``update`` (``update_records``, ``update_inputs``) folds
new facts into all of them at a cost that follows the new facts, not the state (see
docs/features.md). Not thread-safe: a fold, and a transform that computes a stale
snapshot, change the state in place, so folds and transforms must be serialised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.aeo import AeoBlock
from features.blocks import ControlEvents, EnsEvents, FeatureBlock
from features.categories import CategoryBlock
from features.history import control_columns, control_events, ens_events, ens_events_of
from features.inputs import (
    Inputs,
    inputs_from_frames,
    inputs_from_records,
    text_column,
    text_isin,
)
from features.profiles import ProfileBlock, ProfileConfig
from features.route import RouteBlock
from features.spec import FeatureSpec
from features.state_io import load_state, save_state
from features.timebase import to_seconds
from features.valuation import ValuationBlock, ValuationConfig
from features.vocab import FOLD_BATCH, Vocabulary

logger = logging.getLogger("features.pipeline")
NotFittedMessage = "This FeaturePipeline is not fitted yet. Call fit beforehand."


class NotFittedError(RuntimeError):
    """Raised when transform or update is called before fit."""


def default_blocks(
    profile: ProfileConfig | None = None, valuation: ValuationConfig | None = None
) -> list[FeatureBlock]:
    """The feature blocks of this package, in output order."""
    return [
        ProfileBlock(profile),
        ValuationBlock(valuation),
        RouteBlock(),
        AeoBlock(),
        CategoryBlock(),
    ]


def _check_unique_ids(declarations: pd.DataFrame) -> None:
    """Every block appends every row while control results are attributed by id: a
    repeated or missing id would shift results onto other rows, so ``fit`` refuses it."""
    ids = declarations["declaration_id"]
    problems = []
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        problems.append(f"{len(missing)} missing (rows {missing[:5].tolist()})")
    repeated = np.flatnonzero(ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy())
    if len(repeated):
        first = ids.iloc[repeated[0]]
        rows = repeated[ids.iloc[repeated].to_numpy() == first][:5].tolist()
        problems.append(f"{ids.iloc[repeated].nunique()} repeated (e.g. {first!r} at rows {rows})")
    if problems:
        raise ValueError(f"declaration_id must be unique and present: {'; '.join(problems)}")


PENDING_COLUMNS = ("declaration_id", "controlled_at", "outcome", "revenue_recovered")


def _pending_state(pending: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Control results waiting for their declaration, as plain arrays (times in seconds)."""
    if pending is None or len(pending) == 0:
        pending = pd.DataFrame({c: pd.Series([], dtype=object) for c in PENDING_COLUMNS})
        pending["controlled_at"] = pd.Series([], dtype="datetime64[ns, UTC]")
    return {
        "declaration_id": pending["declaration_id"].astype(object).to_numpy(),
        "controlled_at": to_seconds(pending["controlled_at"]),
        "outcome": pending["outcome"].astype(object).to_numpy(),
        "revenue_recovered": pending["revenue_recovered"].to_numpy(dtype=np.float64),
    }


def _pending_frame(state: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "declaration_id": np.asarray(state["declaration_id"], dtype=object),
            "controlled_at": pd.to_datetime(
                np.asarray(state["controlled_at"], dtype=np.int64), unit="s", utc=True
            ),
            "outcome": np.asarray(state["outcome"], dtype=object),
            "revenue_recovered": np.asarray(state["revenue_recovered"], dtype=np.float64),
        }
    )


def _control_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    """Control-result dicts as the frame ``update`` takes (times as UTC timestamps)."""
    frame = pd.DataFrame(
        {
            "declaration_id": pd.Series([r.get("declaration_id") for r in results], dtype=object),
            "controlled_at": pd.to_datetime([r.get("controlled_at") for r in results], utc=True),
            "outcome": pd.Series([r.get("outcome") for r in results], dtype=object),
            "revenue_recovered": pd.Series(
                [r.get("revenue_recovered") for r in results], dtype=np.float64
            ),
        }
    )
    return frame


class FeaturePipeline:
    """Point-in-time features for customs declarations."""

    def __init__(self, blocks: Sequence[FeatureBlock] | None = None) -> None:
        self.blocks = list(blocks) if blocks is not None else default_blocks()

    # ----- fitting -------------------------------------------------------------------
    def fit(
        self,
        declarations: pd.DataFrame,
        controls: pd.DataFrame | None = None,
        ens_filings: pd.DataFrame | None = None,
        ens_items: pd.DataFrame | None = None,
    ) -> FeaturePipeline:
        """Learn every block's state from a history of canonical tables."""
        _check_unique_ids(declarations)
        inputs = inputs_from_frames(declarations, ens_filings, ens_items)
        self.registry_ = Vocabulary(inputs.text["declaration_id"])
        self.pending_controls_: pd.DataFrame | None = None
        events = self._controls(controls)
        ens = ens_events(ens_filings) if ens_filings is not None else None
        for block in self.blocks:
            block.fit(inputs, events, ens)
        self.spec_ = self._spec()
        self.fitted_inputs_ = inputs
        return self

    def update(
        self,
        declarations: pd.DataFrame | None = None,
        controls: pd.DataFrame | None = None,
        ens_filings: pd.DataFrame | None = None,
        ens_items: pd.DataFrame | None = None,
    ) -> FeaturePipeline:
        """Fold new declarations, control results and ENS filings into the fitted state.

        Equivalent to a full fit on the concatenated history (tested); new control results
        may concern declarations fitted earlier or later (those wait for them). The state
        keeps no ENS versions: ``ens_filings`` must hold every version of the filings the
        new declarations link to, also those filed before this update (a new declaration
        whose filing is missing gets no ENS features, and a warning says how many). Of
        ``ens_filings`` only the versions the update needs are read (those of the linked
        filings and of filings the state has not seen), so passing the day's filings or
        the whole table gives the same state; the day's is faster.

        The cost follows the new facts, not the state (see ``features.layered``); the
        snapshots the new facts change are recomputed when a row first needs one, or by
        ``refresh``. ``update`` and ``transform`` must not run concurrently (one thread,
        or a lock): a fold changes the state in place.
        """
        self._check_fitted()
        frame = self._fresh(declarations)
        with_ens = self._with_ens()
        filings = items = None
        if with_ens and ens_filings is not None:
            filings, items = self._needed_ens(frame, ens_filings, ens_items)
        inputs = inputs_from_frames(frame, filings, items)
        if with_ens and len(frame) and "ens_id" in frame:
            given = filings["filing_id"] if filings is not None else pd.Series([], dtype=object)
            unlinked = int(
                (frame["ens_id"].notna().to_numpy() & ~text_isin(frame["ens_id"], given)).sum()
            )
            if unlinked:
                logger.warning(
                    "update: %d new declarations link to ENS filings not passed in"
                    " ens_filings; they get no ENS features",
                    unlinked,
                )
        ens = ens_events(filings) if filings is not None and len(filings) else None
        return self._fold(inputs, controls, ens)

    def update_records(
        self,
        records: list[dict[str, Any]],
        controls: pd.DataFrame | list[dict[str, Any]] | None = None,
    ) -> FeaturePipeline:
        """``update`` for canonical declaration dicts with embedded ENS (the API path, the
        dicts ``transform_records`` takes): the filing events come from the embedded
        versions. ``controls``: a frame or dicts with the control-result columns."""
        self._check_fitted()
        return self.update_inputs(inputs_from_records(records, self._with_ens()), controls)

    def update_inputs(
        self,
        inputs: Inputs,
        controls: pd.DataFrame | list[dict[str, Any]] | None = None,
    ) -> FeaturePipeline:
        """Fold prepared rows, as ``transform_inputs`` takes them: a server prepares a
        batch once (``inputs_from_records``), scores it, then folds it. The filing events
        come from the ENS versions the inputs carry (``Inputs.versions``, kept by
        ``inputs_from_records``); inputs built from frames carry none (use ``update``)."""
        self._check_fitted()
        keep = self._fresh_mask(inputs.text["declaration_id"])
        if not keep.all():
            inputs = inputs.take(np.flatnonzero(keep))
        ens = None
        f = inputs.versions
        if f is None and inputs.ens is not None and inputs.ens["present"].any():
            logger.warning(
                "update_inputs: the inputs carry no ENS versions (built from frames?), so"
                " their filings are not folded; fold frames with update instead"
            )
        if self._with_ens() and f is not None and len(f["row"]):
            ens = ens_events_of(
                f["filing_id"],
                f["version"],
                f["filed_at"],
                f["consignor_id"],
                f["consignee_id"],
                f["expected_arrival"],
                f["itinerary"],
            )
        frame = controls if controls is None or isinstance(controls, pd.DataFrame) else None
        if frame is None and controls is not None:
            frame = _control_frame(list(controls))
        return self._fold(inputs, frame, ens)

    def refresh(self) -> FeaturePipeline:
        """Do now the work folds defer: compute the snapshots they made stale (graph,
        valuation), which the first row of a new period would otherwise wait for, and
        merge the recent events of the profile and route indices into their base, so that
        reads are as fast as after a fit. For a server's quiet moments (not concurrently
        with ``transform``)."""
        self._check_fitted()
        for block in self.blocks:
            refresh = getattr(block, "refresh", None)
            if refresh is not None:
                refresh()
        return self

    def _fresh_mask(self, ids: np.ndarray) -> np.ndarray:
        """Rows to fold: a declaration already in the state (or repeated, or without an id)
        is not refolded, since every block appends rows to the same registry and a resent
        row would shift the control attribution."""
        known = self.registry_.codes(ids, dict_up_to=FOLD_BATCH) >= 0
        fresh = np.zeros(len(ids), dtype=bool)
        seen: set[Any] = set()
        for k, value in enumerate(ids):
            if known[k] or value is None or value in seen:
                continue
            seen.add(value)
            fresh[k] = True
        self.skipped_declarations_ = getattr(self, "skipped_declarations_", 0) + int(
            len(ids) - fresh.sum()
        )
        return fresh

    def _fresh(self, declarations: pd.DataFrame | None) -> pd.DataFrame:
        if declarations is None or len(declarations) == 0:
            return self._empty_declarations()
        ids = text_column(declarations["declaration_id"], len(declarations))
        return declarations[self._fresh_mask(ids)]

    def _needed_ens(
        self, frame: pd.DataFrame, filings: pd.DataFrame, items: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The filing versions an update reads: those of the filings its declarations link
        to, and those the blocks ask for (filings not folded yet: duplicates and copies
        filed apart count in the features), with the items of the linked filings."""
        linked = frame["ens_id"].dropna().unique() if "ens_id" in frame else []
        wanted = text_isin(filings["filing_id"], linked)
        asks = [b.wanted_filings for b in self.blocks if hasattr(b, "wanted_filings")]
        if asks and len(filings):
            ids = filings["filing_id"].astype(object).to_numpy(dtype=object)
            filed = to_seconds(filings["filed_at"])
            for ask in asks:
                wanted |= ask(ids, filed)
        selected = filings[wanted]
        if items is not None and len(items):
            items = items[text_isin(items["filing_id"], linked)]
        return selected, items

    def _fold(
        self, inputs: Inputs, controls: pd.DataFrame | None, ens: EnsEvents | None
    ) -> FeaturePipeline:
        """Register the new rows, attribute the control results, fold into every block."""
        ids = inputs.text["declaration_id"]
        self.registry_.add(ids)
        events = self._controls(controls, ids)
        for block in self.blocks:
            block.update(inputs, events, ens)
        if self.spec_.names != self._spec().names:
            raise RuntimeError("update changed the feature layout; refit instead")
        return self

    def _empty_declarations(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "declaration_id": pd.Series([], dtype=object),
                "lodged_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            }
        )

    def with_ens(self) -> bool:
        """Whether the fitted state uses ENS data (so ENS inputs are read)."""
        return self._with_ens()

    def _with_ens(self) -> bool:
        return any(getattr(b, "with_ens_", False) for b in self.blocks)

    @property
    def unmatched_controls_(self) -> int:
        """Control results still waiting for their declaration."""
        pending = self.pending_controls_
        return 0 if pending is None else len(pending)

    def _controls(
        self, controls: pd.DataFrame | None, new_ids: np.ndarray | None = None
    ) -> ControlEvents:
        """Control results attributed to registry rows. Results whose declaration is not in
        the registry yet (feeds arrive out of order) wait in ``pending_controls_`` and are
        attributed when it arrives (``new_ids``: the rows just registered), as a refit on
        the later history would."""
        pending = self.pending_controls_
        parts = []
        if pending is not None and len(pending) and new_ids is not None and len(new_ids):
            waiting = self._waiting_ids(pending)
            arrived = [i for i in new_ids if i in waiting]
            if arrived:
                now = text_isin(pending["declaration_id"], arrived)
                parts.append(control_columns(pending[now]))
                pending = pending[~now].reset_index(drop=True)
        if controls is not None and len(controls):
            parts.append(control_columns(controls))
        if not parts:
            self.pending_controls_ = pending
            empty = np.zeros(0)
            return ControlEvents(empty.astype(np.int64), empty.astype(np.int64), empty, empty)
        cols = {k: np.concatenate([p[k] for p in parts]) for k in PENDING_COLUMNS}
        events, unmatched = control_events(cols, self.registry_)
        if unmatched.any():
            left = _pending_frame({k: v[unmatched] for k, v in cols.items()})
            if pending is not None and len(pending):
                left = pd.concat([pending, left], ignore_index=True)
            pending = left
        self.pending_controls_ = pending
        return events

    def _waiting_ids(self, pending: pd.DataFrame) -> set[Any]:
        """Declaration ids of the waiting results (cached while the table is the same)."""
        cached = getattr(self, "_waiting", None)
        if cached is None or cached[0] is not pending:
            cached = (pending, set(pending["declaration_id"].astype(object)))
            self._waiting = cached
        return cached[1]

    def _spec(self) -> FeatureSpec:
        names: list[str] = []
        groups: dict[str, tuple[str, ...]] = {}
        nullable: set[str] = set()
        dropped: dict[str, str] = {}
        for block in self.blocks:
            block_names = block.feature_names()
            if block_names:  # a block without columns (no extra attributes) has no group
                groups[block.name] = tuple(block_names)
            names += block_names
            nullable |= block.nullable()
            dropped.update(block.dropped())
        if len(set(names)) != len(names):
            raise RuntimeError("feature names collide between blocks")
        return FeatureSpec(
            names=tuple(names), groups=groups, nullable=frozenset(nullable), dropped=dropped
        )

    # ----- transform -----------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "spec_"):
            raise NotFittedError(NotFittedMessage)

    def transform_inputs(self, inputs: Inputs) -> np.ndarray:
        """Feature matrix of prepared inputs, each row as of its own time."""
        self._check_fitted()
        if inputs.n == 0:
            return np.zeros((0, len(self.spec_.names)), dtype=np.float32)
        return np.hstack([block.transform(inputs) for block in self.blocks])

    def transform_cross_fitted(self, inputs: Inputs, at: int, folds: int) -> np.ndarray:
        """Training features whose label statistics are cross-fitted by time blocks (the
        blocks that offer it: the profiles' control history, see
        ``ProfileBlock.transform_cross_fitted``); other columns as ``transform_inputs``.
        For training matrices only: a row sees later blocks' results."""
        self._check_fitted()
        if folds < 2:
            raise ValueError(f"cross-fitting needs at least 2 folds, got {folds}")
        if inputs.n == 0:
            return np.zeros((0, len(self.spec_.names)), dtype=np.float32)
        parts = []
        for block in self.blocks:
            crossed = getattr(block, "transform_cross_fitted", None)
            parts.append(crossed(inputs, at, folds) if crossed else block.transform(inputs))
        return np.hstack(parts)

    def transform(
        self,
        declarations: pd.DataFrame,
        ens_filings: pd.DataFrame | None = None,
        ens_items: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Feature matrix of canonical declaration rows (training or batch scoring)."""
        self._check_fitted()
        use_ens = ens_filings if self._with_ens() else None
        return self.transform_inputs(inputs_from_frames(declarations, use_ens, ens_items))

    def transform_records(self, records: list[dict[str, Any]]) -> np.ndarray:
        """Feature matrix of canonical declaration dicts with embedded ENS (the API path)."""
        self._check_fitted()
        return self.transform_inputs(inputs_from_records(records, with_ens=self._with_ens()))

    def fit_transform(
        self,
        declarations: pd.DataFrame,
        controls: pd.DataFrame | None = None,
        ens_filings: pd.DataFrame | None = None,
        ens_items: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Fit on a history and return its point-in-time training features."""
        self.fit(declarations, controls, ens_filings, ens_items)
        return self.transform_inputs(self.fitted_inputs_)

    def block(self, name: str) -> FeatureBlock:
        """The block called ``name`` (e.g. "profiles")."""
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(f"no feature block named {name!r}")

    def get_feature_names_out(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.spec_.names, dtype=object)

    # ----- persistence ---------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the fitted state (arrays, strings, JSON; no pickle) and the spec."""
        self._check_fitted()
        state = {
            "blocks": {block.name: block.get_state() for block in self.blocks},
            "registry": self.registry_.values,
            "pending_controls": _pending_state(self.pending_controls_),
        }
        save_state(state, directory)
        (directory / "feature_spec.json").write_text(json.dumps(self.spec_.to_dict(), indent=1))

    @classmethod
    def load(cls, directory: Path, blocks: Sequence[FeatureBlock] | None = None) -> FeaturePipeline:
        """Read a state written by ``save``; ``blocks`` must be the same kinds, same order."""
        state = load_state(directory)
        pipeline = cls(blocks)
        names = [b.name for b in pipeline.blocks]
        if names != list(state["blocks"]):
            raise ValueError(f"saved blocks {list(state['blocks'])} differ from {names}")
        for block in pipeline.blocks:
            block.set_state(state["blocks"][block.name])
        pipeline.registry_ = Vocabulary(state["registry"])
        pipeline.pending_controls_ = _pending_frame(state["pending_controls"])
        pipeline.spec_ = pipeline._spec()
        saved = FeatureSpec.from_dict(json.loads((directory / "feature_spec.json").read_text()))
        if saved.hash != pipeline.spec_.hash:
            raise ValueError(
                f"feature spec hash mismatch: saved {saved.hash},"
                f" this code gives {pipeline.spec_.hash}"
            )
        return pipeline


__all__ = ["EnsEvents", "FeaturePipeline", "NotFittedError", "default_blocks"]
