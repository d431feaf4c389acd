"""A binary LightGBM model as flat, exact decision tables (numpy only; no ONNX here).

Both ONNX tree graphs (ONNX Runtime's TreeEnsemble on CPU, tensor traversal on CUDA)
are built from these tables, so they share one statement of LightGBM's semantics:

* ``booster.predict`` turns every value with ``|x| <= z`` (z = 1e-35f, kZeroThreshold)
  into 0.0 (its dense row reader drops such values), then each split compares in double
  ``x <= threshold`` after the NaN rules of the split's ``missing_type``:
  ``None``: NaN is read as 0.0; ``Zero``: NaN and 0 take the default direction;
  ``NaN``: NaN takes the default direction.
* The features are float32, so ``x <= t`` in double equals ``x <= floor32(t)`` in
  float, where ``floor32(t)`` is the largest float32 not above ``t``.
* The zeroing folds into the threshold: ``zero(x) <= t`` equals ``x <= max(t, z)`` for
  ``t >= 0``, ``x <= prev32(-z)`` for ``-z <= t < 0``, and ``x <= t`` below ``-z``.
* NaN then only needs a direction per split: ``nan_left`` is ``default_left`` for
  ``NaN`` and ``Zero`` splits and ``0 <= t`` for ``None`` splits (NaN read as 0). For
  ``Zero`` splits, values with ``|x| <= z`` are first turned into NaN (``ZERO_AS_NAN``).

So each split is one float comparison ``x <= threshold`` on a column (raw or
ZERO_AS_NAN), with NaN sent to ``nan_left``. The ONNX builders turn ``nan_left`` into
ONNX Runtime's missing-value tracking or into a negated column (``x > t`` iff
``-x <= -nextup32(t)``, and NaN fails every comparison).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZERO_THRESHOLD = np.float32(1e-35)  # LightGBM's kZeroThreshold (1e-35f)
RAW, ZERO_AS_NAN = 0, 1  # column transforms


@dataclass(frozen=True)
class Forest:
    """All trees' nodes in one flat index space (leaves point to themselves)."""

    feature: np.ndarray  # [M] int64: feature of each split (0 at leaves)
    kind: np.ndarray  # [M] int64: RAW or ZERO_AS_NAN
    threshold: np.ndarray  # [M] float32: left iff x <= threshold (x not NaN)
    nan_left: np.ndarray  # [M] bool: where NaN goes
    left: np.ndarray  # [M] int32
    right: np.ndarray  # [M] int32
    value: np.ndarray  # [M] float64: leaf values (0 at internal nodes)
    is_leaf: np.ndarray  # [M] bool
    roots: np.ndarray  # [T] int32
    depth: int  # most splits on any root-to-leaf path
    n_features: int  # max_feature_idx + 1
    sigmoid: float  # p = 1 / (1 + exp(-sigmoid * margin))
    scale: float  # 1 / n_trees for averaged (random-forest) output, else 1

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def predict_margin(self, x: np.ndarray) -> np.ndarray:
        """Reference evaluation of the tables in numpy (float64 sums), for tests."""
        x = np.asarray(x, dtype=np.float32)
        node = np.broadcast_to(self.roots, (len(x), self.n_trees)).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            v = x[rows, self.feature[node]]
            v = np.where(
                (self.kind[node] == ZERO_AS_NAN) & (np.abs(v) <= ZERO_THRESHOLD),
                np.float32(np.nan),
                v,
            )
            go = np.where(np.isnan(v), self.nan_left[node], v <= self.threshold[node])
            node = np.where(go, self.left[node], self.right[node])
        return self.value[node].sum(axis=1) * self.scale


def floor32(t: float) -> np.float32:
    """Largest float32 <= t, so that float32 x <= floor32(t) iff double(x) <= t."""
    with np.errstate(over="ignore"):
        f = np.float32(t)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return np.float32(f)


def _objective(model: dict) -> float:
    """Sigmoid scale of a binary objective; ValueError for anything else."""
    objective = str(model.get("objective", ""))
    name, *params = objective.split() or [""]
    if (
        name != "binary"
        or model.get("num_class", 1) != 1
        or model.get("num_tree_per_iteration", 1) != 1
    ):
        raise ValueError(
            f"only binary LightGBM models can be compiled, got objective {objective!r} "
            f"(num_class={model.get('num_class')})"
        )
    sigmoid = 1.0
    for p in params:
        key, _, val = p.partition(":")
        if key == "sigmoid":
            sigmoid = float(val)
    return sigmoid


def exact_threshold(t: float) -> np.float32:
    """float32 u with: float32 x <= u  iff  zero(x) <= t in double (see module docstring)."""
    u = floor32(t)
    if u >= 0:
        return max(u, ZERO_THRESHOLD)
    if u >= -ZERO_THRESHOLD:
        return np.nextafter(-ZERO_THRESHOLD, np.float32(-np.inf))
    return u


class _Builder:
    """Collects nodes while walking the dumped trees."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, tree: int, node: dict) -> int:
        index = len(self.rows)
        row: dict = {}
        self.rows.append(row)
        if "split_feature" not in node:
            if "leaf_coeff" in node or "leaf_features" in node:
                raise ValueError(f"tree {tree} has linear leaves: linear_tree is not supported")
            row.update(leaf=True, value=float(node.get("leaf_value", 0.0)))
            return index
        if node["decision_type"] != "<=":
            raise ValueError(
                f"tree {tree} splits feature {node['split_feature']} with "
                f"{node['decision_type']!r} (a categorical split): encode categories "
                "numerically before training the trees"
            )
        missing = node["missing_type"]
        if missing not in ("None", "NaN", "Zero"):
            raise ValueError(f"tree {tree}: unknown missing_type {missing!r}")
        t = exact_threshold(float(node["threshold"]))
        row.update(
            leaf=False,
            feature=int(node["split_feature"]),
            kind=ZERO_AS_NAN if missing == "Zero" else RAW,
            threshold=t,
            nan_left=bool(t >= 0) if missing == "None" else bool(node["default_left"]),
        )
        row["left"] = self.add(tree, node["left_child"])
        row["right"] = self.add(tree, node["right_child"])
        return index


def _depth(node: dict) -> int:
    if "split_feature" not in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


def forest_from_dump(model: dict) -> Forest:
    """Parse ``booster.dump_model()`` into exact tables; ValueError on what is unsupported."""
    sigmoid = _objective(model)
    trees = model["tree_info"]
    if not trees:
        raise ValueError("the booster has no trees")
    b = _Builder()
    roots = [b.add(i, t["tree_structure"]) for i, t in enumerate(trees)]
    rows = b.rows
    me = np.arange(len(rows), dtype=np.int32)
    return Forest(
        feature=np.array([r.get("feature", 0) for r in rows], dtype=np.int64),
        kind=np.array([r.get("kind", RAW) for r in rows], dtype=np.int64),
        threshold=np.array([r.get("threshold", 0.0) for r in rows], dtype=np.float32),
        nan_left=np.array([r.get("nan_left", False) for r in rows], dtype=bool),
        left=np.array([r.get("left", i) for i, r in zip(me, rows, strict=True)], dtype=np.int32),
        right=np.array([r.get("right", i) for i, r in zip(me, rows, strict=True)], dtype=np.int32),
        value=np.array([r.get("value", 0.0) for r in rows], dtype=np.float64),
        is_leaf=np.array([r["leaf"] for r in rows], dtype=bool),
        roots=np.array(roots, dtype=np.int32),
        depth=max(_depth(t["tree_structure"]) for t in trees),
        n_features=int(model["max_feature_idx"]) + 1,
        sigmoid=sigmoid,
        scale=1.0 / len(trees) if model.get("average_output") else 1.0,
    )


def forest_from_booster(booster: object) -> Forest:
    """Tables of ``booster`` (a lightgbm.Booster), at its best iteration like ``predict``."""
    return forest_from_dump(booster.dump_model())  # type: ignore[attr-defined]
