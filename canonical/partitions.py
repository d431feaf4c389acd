"""Canonical tables cut into time partitions, the input of ``targeting score --dask``.

A partition is a folder holding the declarations lodged in one period
(``declarations.parquet``) and every version of the ENS filings they link
(``ens_filings.parquet``, ``ens_items.parquet``), so that a worker scores it alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from canonical.frames import TABLE_FILES, write_table


def partition_names(lodged: pd.Series, freq: str) -> pd.Series:
    """The partition of each lodging time: its period start, as ``YYYY-MM-DD``."""
    periods = lodged.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq)
    return periods.dt.start_time.dt.strftime("%Y-%m-%d")


def write_partitions(
    frames: dict[str, pd.DataFrame], out: Path, freq: str = "W", prefix: str = ""
) -> list[Path]:
    """Write ``frames`` (declarations, optional ens_filings and ens_items) under ``out`` as
    one folder per lodging period (``freq``: a pandas period alias, W or M); returns them.
    A filing goes with every partition whose declarations link it; a filing no declaration
    links (still a fact: an ENS was filed) goes with the period of its first version."""
    declarations = frames["declarations"]
    filings, items = frames.get("ens_filings"), frames.get("ens_items")
    names = partition_names(declarations["lodged_at"], freq)
    unlinked = None
    if filings is not None:
        linked_ids = declarations["ens_id"].dropna() if "ens_id" in declarations else []
        alone = filings[~filings["filing_id"].isin(linked_ids)]
        first = alone.groupby("filing_id")["filed_at"].transform("min")
        unlinked = alone.assign(_part=partition_names(first, freq).to_numpy())
    written = []
    parts = sorted(set(names) | (set() if unlinked is None else set(unlinked["_part"])))
    for name in parts:
        rows = declarations[(names == name).to_numpy()]
        folder = Path(out) / f"{prefix}{name}"
        folder.mkdir(parents=True, exist_ok=True)
        write_table(
            rows.reset_index(drop=True), "declarations", folder / TABLE_FILES["declarations"]
        )
        if filings is not None and unlinked is not None:
            linked = filings[filings["filing_id"].isin(rows["ens_id"].dropna())]
            mine = pd.concat([linked, unlinked[unlinked["_part"] == name].drop(columns="_part")])
            write_table(
                mine.reset_index(drop=True), "ens_filings", folder / TABLE_FILES["ens_filings"]
            )
            if items is not None:
                keys = mine[["filing_id", "version"]]
                own = items.merge(keys, on=["filing_id", "version"], how="inner", sort=False)
                write_table(own, "ens_items", folder / TABLE_FILES["ens_items"])
        written.append(folder)
    return written
