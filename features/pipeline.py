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
the caller) each own their state; ``update`` folds new facts into all of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.aeo import AeoBlock
from features.blocks import ControlEvents, EnsEvents, FeatureBlock
from features.history import control_events, ens_events
from features.inputs import Inputs, inputs_from_frames, inputs_from_records
from features.profiles import ProfileBlock, ProfileConfig
from features.route import RouteBlock
from features.spec import FeatureSpec
from features.state_io import load_state, save_state
from features.valuation import ValuationBlock, ValuationConfig
from features.vocab import Vocabulary

NotFittedMessage = "This FeaturePipeline is not fitted yet. Call fit beforehand."


class NotFittedError(RuntimeError):
    """Raised when transform or update is called before fit."""


def default_blocks(
    profile: ProfileConfig | None = None, valuation: ValuationConfig | None = None
) -> list[FeatureBlock]:
    """The feature blocks of this package, in output order."""
    return [ProfileBlock(profile), ValuationBlock(valuation), RouteBlock(), AeoBlock()]


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
        inputs = inputs_from_frames(declarations, ens_filings, ens_items)
        self.registry_ = Vocabulary(inputs.text["declaration_id"])
        events, self.unmatched_controls_ = self._controls(controls)
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
        may concern declarations fitted earlier.
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
        self.registry_.add(inputs.text["declaration_id"])
        events, unmatched = self._controls(controls)
        self.unmatched_controls_ += unmatched
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

    def _controls(self, controls: pd.DataFrame | None) -> tuple[ControlEvents, int]:
        if controls is None or len(controls) == 0:
            empty = np.zeros(0)
            return ControlEvents(empty.astype(np.int64), empty.astype(np.int64), empty, empty), 0
        index = pd.Index(self.registry_.values, dtype=object)
        return control_events(controls, index)

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
    ) -> np.ndarray:
        """Fit on a history and return its point-in-time training features."""
        self.fit(declarations, controls, ens_filings, ens_items)
        return self.transform_inputs(self.fitted_inputs_)

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
            "unmatched_controls": self.unmatched_controls_,
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
        pipeline.unmatched_controls_ = int(state["unmatched_controls"])
        pipeline.spec_ = pipeline._spec()
        saved = FeatureSpec.from_dict(json.loads((directory / "feature_spec.json").read_text()))
        if saved.hash != pipeline.spec_.hash:
            raise ValueError(
                f"feature spec hash mismatch: saved {saved.hash},"
                f" this code gives {pipeline.spec_.hash}"
            )
        return pipeline


__all__ = ["EnsEvents", "FeaturePipeline", "NotFittedError", "default_blocks"]
