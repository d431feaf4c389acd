"""Save and load fitted states as plain files: numeric arrays in one .npz (no pickle),
string arrays as Parquet, everything else as JSON. Never a pickle: a bundle must be
readable by the serving code of the same version and inspectable by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_SEP = "/"


def _flatten(
    tree: Any, prefix: str, arrays: dict[str, np.ndarray], strings: dict[str, np.ndarray]
) -> Any:
    if isinstance(tree, dict):
        return {
            k: _flatten(v, f"{prefix}{_SEP}{k}" if prefix else str(k), arrays, strings)
            for k, v in tree.items()
        }
    if isinstance(tree, np.ndarray):
        if tree.dtype == object or tree.dtype.kind in "US":
            strings[prefix] = tree
            return {"__strings__": prefix}
        arrays[prefix] = tree
        return {"__array__": prefix}
    if isinstance(tree, (np.integer, np.floating, np.bool_)):
        return tree.item()
    if isinstance(tree, tuple):
        return list(tree)
    return tree


def save_state(state: dict[str, Any], directory: Path) -> None:
    """Write ``state`` (nested dicts of arrays and JSON values) under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    strings: dict[str, np.ndarray] = {}
    skeleton = _flatten(state, "", arrays, strings)
    np.savez(directory / "arrays.npz", **{k.replace(_SEP, "__"): v for k, v in arrays.items()})
    names = sorted(strings)
    table = pa.table(
        {
            "name": pa.array([n for n in names for _ in range(len(strings[n]))], pa.string()),
            "value": pa.array(
                [None if v is None else str(v) for n in names for v in strings[n]], pa.string()
            ),
        }
    )
    pq.write_table(table, directory / "strings.parquet")
    (directory / "state.json").write_text(json.dumps(skeleton, indent=1))


def _rebuild(tree: Any, arrays: Any, strings: dict[str, np.ndarray]) -> Any:
    if isinstance(tree, dict):
        if "__array__" in tree:
            return arrays[tree["__array__"].replace(_SEP, "__")]
        if "__strings__" in tree:
            return strings.get(tree["__strings__"], np.zeros(0, dtype=object))
        return {k: _rebuild(v, arrays, strings) for k, v in tree.items()}
    return tree


def load_state(directory: Path) -> dict[str, Any]:
    """Read a state written by ``save_state``."""
    skeleton = json.loads((directory / "state.json").read_text())
    with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    table = pq.read_table(directory / "strings.parquet").to_pandas()
    strings = {
        name: group["value"].to_numpy(dtype=object)
        for name, group in table.groupby("name", sort=False)
    }
    for values in strings.values():
        values[np.equal(values, None)] = None
    return _rebuild(skeleton, arrays, strings)
