"""AEO flags of the parties: trusted traders get fewer controls, never a blind spot."""

from __future__ import annotations

import numpy as np

from features.blocks import ControlEvents, EnsEvents, State
from features.inputs import Inputs


class AeoBlock:
    """Importer, declarant and (with ENS) carrier AEO status."""

    name = "aeo"

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        self.with_ens_ = inputs.ens is not None

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        """Stateless: nothing to fold in."""

    def feature_names(self) -> list[str]:
        return ["importer_aeo", "declarant_aeo"] + (["carrier_aeo"] if self.with_ens_ else [])

    def nullable(self) -> set[str]:
        return set()

    def dropped(self) -> dict[str, str]:
        return {} if self.with_ens_ else {"aeo:carrier": "no ENS data: carrier AEO comes from ENS"}

    def transform(self, inputs: Inputs) -> np.ndarray:
        cols = [inputs.flag["importer_aeo"], inputs.flag["declarant_aeo"]]
        if self.with_ens_:
            carrier = (
                inputs.ens["carrier_aeo"] if inputs.ens is not None else np.zeros(inputs.n, bool)
            )
            cols.append(carrier)
        return np.column_stack(cols).astype(np.float32)

    def get_state(self) -> State:
        return {"with_ens": self.with_ens_}

    def set_state(self, state: State) -> None:
        self.with_ens_ = bool(state["with_ens"])
