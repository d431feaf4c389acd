"""Cross-fitted training rows: no label of a later window reaches them, and a run with
``cross_fit`` trains and says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.timebase import to_seconds
from training.served import cross_fitted


def test_labels_known_after_the_cut_do_not_reach_cross_fitted_rows(
    frames: dict[str, pd.DataFrame],
) -> None:
    d, c = frames["declarations"], frames["controls"]
    lodged = to_seconds(d["lodged_at"])
    cut = int(np.quantile(lodged, 0.6))
    rows = np.flatnonzero(lodged < cut)
    before, names = cross_fitted(frames, rows, cut)
    flipped = c.copy()
    late = to_seconds(c["controlled_at"]) >= cut
    hit = flipped.loc[late, "outcome"] != "no_irregularity"
    flipped.loc[late, "outcome"] = np.where(hit, "no_irregularity", "seizure")
    after, _ = cross_fitted({**frames, "controls": flipped}, rows, cut)
    np.testing.assert_array_equal(before, after)
    # ...while a label inside the window moves other blocks' rows.
    early = ~late & c.declaration_id.isin(d.declaration_id.iloc[rows])
    flipped = c.copy()
    flipped.loc[early, "outcome"] = "seizure"
    moved, _ = cross_fitted({**frames, "controls": flipped}, rows, cut)
    assert not np.array_equal(
        before[:, names.index("importer__hits")], moved[:, names.index("importer__hits")]
    )
