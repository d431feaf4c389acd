"""Whether a declaration's ENS was filed, not filed, or filed but not sent with it.

A declaration names its entry summary declaration by ``ens_id``; the API takes the filing
embedded under ``ens``. An ``ens_id`` without the embedded filing is *not sent*: the service
has not seen the filing, which says nothing about whether one was lodged. It is reported
(``ens_status`` and a warning in the answer, the explanation page) so that no one reads the
score as that of a consignment without ENS: the model's ENS features of such a row are those
of a row without a filing (zeros, ``ens_present = 0``), because the models were trained on
histories where every linked filing is known. ``targeting score`` reports the same statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

EnsStatus = Literal["filed", "not_filed", "not_sent"]
FILED: EnsStatus = "filed"
NOT_FILED: EnsStatus = "not_filed"
NOT_SENT: EnsStatus = "not_sent"
STATUSES: tuple[EnsStatus, ...] = (FILED, NOT_FILED, NOT_SENT)


def ens_status(declaration: Mapping[str, Any]) -> EnsStatus:
    """``filed`` (the ENS is embedded), ``not_filed`` (no ``ens_id``: the declaration links
    none) or ``not_sent`` (an ``ens_id`` whose filing was not embedded)."""
    if not declaration.get("ens_id"):
        return NOT_FILED
    return FILED if declaration.get("ens") else NOT_SENT


def not_sent_warning(ens_id: object) -> str:
    """The warning answered with a declaration whose ENS was not sent."""
    return (
        f"ENS {ens_id} was not sent with the declaration (embed it under 'ens'): the score"
        " does not know whether or when it was filed, and its ENS features read as if none"
        " was filed, which changes it"
    )


def warnings_for(declaration: Mapping[str, Any]) -> list[str]:
    """The answer's warnings about the declaration's ENS (empty unless not sent)."""
    if ens_status(declaration) == NOT_SENT:
        return [not_sent_warning(declaration.get("ens_id"))]
    return []


def frame_statuses(declarations: pd.DataFrame, filings: pd.DataFrame | None) -> pd.Series:
    """``ens_status`` of each row of a declarations frame scored with ``filings`` (None: no
    ENS file given): an ``ens_id`` absent from ``filings`` is ``not_sent``."""
    if "ens_id" not in declarations:
        return pd.Series(NOT_FILED, index=declarations.index, dtype=object)
    linked = declarations["ens_id"].notna()
    given = (
        declarations["ens_id"].isin(filings["filing_id"])
        if filings is not None and len(filings)
        else pd.Series(False, index=declarations.index)
    )
    return pd.Series(
        np.where(~linked, NOT_FILED, np.where(given, FILED, NOT_SENT)),
        index=declarations.index,
        dtype=object,
    )
