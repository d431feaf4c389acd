"""``FeaturePipeline``: canonical declarations (+ ENS, + control results) -> float32 matrix.

scikit-learn's estimator contract: ``__init__`` stores parameters; ``fit`` learns state
(trailing underscore) and returns self; ``transform`` applies it. Every feature of a row
is computed as of the row's own timestamp from facts strictly before it (declarations
lodged, control results known, ENS filed), so the one ``transform`` gives leakage-free
training features for the fitted history itself and serving features for new rows:
``fit(X).transform(X) == fit_transform(X)`` by default, and a state fitted on the
history before a row gives that row the same features as the full state (the profiles'
prior strengths too are fitted per period from the results known before it). That
point-in-time rule is the temporal form of cross-fitting: no row sees its own label or
a later one.

``fit_transform(..., cross_fit=True)`` instead gives the fitted rows label statistics
cross-fitted by time block (``ProfileBlock.cross_fit_transform``): each row sees the
results of the other blocks, as much history as a scoring row sees, never its own
block's. Then ``fit_transform(X) != fit(X).transform(X)``, as with scikit-learn's
TargetEncoder; scoring, serving and evaluation keep ``transform``.

Blocks (profiles, valuation, route, AEO; the party graph from ``graph`` plugged in by
the caller) each own their state; ``update`` folds new facts into all of them.
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
from features.blocks import ControlEvents, CrossFitBlock, EnsEvents, FeatureBlock
from features.categories import CategoryCodeBlock
from features.history import control_events, ens_events
from features.inputs import Inputs, inputs_from_frames, inputs_from_records
from features.profiles import ProfileBlock, ProfileConfig
from features.route import RouteBlock
from features.spec import FeatureSpec
from features.state_io import load_state, save_state
from features.timebase import to_seconds
from features.valuation import ValuationBlock, ValuationConfig
from features.vocab import Vocabulary

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
        CategoryCodeBlock((profile or ProfileConfig()).max_category_codes),
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
        self.pending_controls_ = None
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
        whose filing is missing gets no ENS features, and a warning says how many).
        """
        self._check_fitted()
        if declarations is not None and len(declarations):
            # A declaration already in the state is not refolded: every block appends rows to
            # the same registry, so a resent row would shift the control attribution.
            ids = declarations["declaration_id"].astype(object)
            known = self.registry_.codes(ids.to_numpy(dtype=object)) >= 0
            fresh = ~known & ~ids.duplicated().to_numpy()
            self.skipped_declarations_ = getattr(self, "skipped_declarations_", 0) + int(
                (~fresh).sum()
            )
            declarations = declarations[fresh]
        empty = declarations is None or len(declarations) == 0
        frame = declarations if not empty else self._empty_declarations()
        inputs = inputs_from_frames(frame, ens_filings if self._with_ens() else None, ens_items)
        if self._with_ens() and not empty and "ens_id" in frame:
            linked = frame["ens_id"].notna()
            given = ens_filings["filing_id"] if ens_filings is not None else pd.Series([])
            unlinked = int((linked & ~frame["ens_id"].isin(given)).sum())
            if unlinked:
                logger.warning(
                    "update: %d new declarations link to ENS filings not passed in"
                    " ens_filings; they get no ENS features",
                    unlinked,
                )
        self.registry_.add(inputs.text["declaration_id"])
        events = self._controls(controls)
        ens = ens_events(ens_filings) if ens_filings is not None and len(ens_filings) else None
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

    def _controls(self, controls: pd.DataFrame | None) -> ControlEvents:
        """Control results attributed to registry rows. Results whose declaration is not in
        the registry yet (feeds arrive out of order) wait in ``pending_controls_`` and are
        attributed when it arrives, as a refit on the later history would."""
        parts = [
            frame[list(PENDING_COLUMNS)]
            for frame in (self.pending_controls_, controls)
            if frame is not None and len(frame)
        ]
        if not parts:
            self.pending_controls_ = None
            empty = np.zeros(0)
            return ControlEvents(empty.astype(np.int64), empty.astype(np.int64), empty, empty)
        table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        index = pd.Index(self.registry_.values, dtype=object)
        events, unmatched = control_events(table, index)
        self.pending_controls_ = table[unmatched].reset_index(drop=True)
        return events

    def _spec(self) -> FeatureSpec:
        names: list[str] = []
        groups: dict[str, tuple[str, ...]] = {}
        nullable: set[str] = set()
        dropped: dict[str, str] = {}
        for block in self.blocks:
            block_names = block.feature_names()
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
        cross_fit: bool = False,
    ) -> np.ndarray:
        """Fit on a history and return its training features.

        By default point-in-time, equal to ``fit(X).transform(X)``. With ``cross_fit``,
        blocks that support it (the profiles) give label statistics cross-fitted by
        time block instead: a row sees the results of the other blocks of the history,
        past and future, never those of its own block (so never its own result); see
        ``ProfileBlock.cross_fit_transform`` for why and what it gives up. The matrix then
        differs from ``fit(X).transform(X)`` (scikit-learn's TargetEncoder contract); use
        it to fit models, and ``transform`` for anything evaluated as served.
        """
        self.fit(declarations, controls, ens_filings, ens_items)
        inputs = self.fitted_inputs_
        if not cross_fit or inputs.n == 0:
            return self.transform_inputs(inputs)
        return np.hstack(
            [
                block.cross_fit_transform(inputs)
                if isinstance(block, CrossFitBlock)
                else block.transform(inputs)
                for block in self.blocks
            ]
        )

    def fitted_parameters(self) -> dict[str, float]:
        """What the blocks fitted from the data beyond its facts (e.g. the profiles' prior
        strength per key), flat as ``BLOCK.NAME``, for the training run to log."""
        self._check_fitted()
        out: dict[str, float] = {}
        for block in self.blocks:
            report = getattr(block, "fitted_parameters", None)
            if report is not None:
                out.update({f"{block.name}.{k}": float(v) for k, v in report().items()})
        return out

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
