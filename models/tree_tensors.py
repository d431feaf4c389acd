"""LightGBM trees compiled to plain ONNX tensor ops ("tree traversal"), runnable on CUDA.

ONNX Runtime's TreeEnsemble operators have CPU kernels only. This module follows the
tree-traversal strategy of tensor compilation (Nakandala et al., OSDI 2020, as in
Microsoft's hummingbird; written here from the idea, not the code): all trees' nodes
live in flat per-node tables concatenated across trees with global node ids, so no
padding is needed (``models.tree_dump.Forest``), the current node
of every (row, tree) pair is an int32 tensor [N, T], and ``depth`` unrolled steps of
Gather / GatherElements / LessOrEqual / Where move it down until every pair sits on a
leaf (leaves point to themselves). Leaf values are then gathered and summed over trees.

Exactness comes from ``models.tree_dump``'s tables (float32 floors of LightGBM's
double thresholds, LightGBM's zeroing folded into them, a NaN direction per split);
here a split whose NaN goes left reads the negated column, so that NaN, which fails
every comparison, always takes the false branch and one LessOrEqual decides all.
Leaf values are summed in float64 by default, which reproduces ``booster.predict``
to ~1e-15 in the margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from models.onnx_graphs import FLOAT, GraphBuilder, make_model, tensor_input
from models.tree_dump import RAW, ZERO_AS_NAN, ZERO_THRESHOLD, Forest, forest_from_booster


@dataclass(frozen=True)
class Columns:
    """Augmented columns ``sign * transform(x[:, feature])`` that the splits read."""

    feature: np.ndarray  # [K] int64
    kind: np.ndarray  # [K] int64: RAW or ZERO_AS_NAN
    sign: np.ndarray  # [K] float32: +1, or -1 where NaN must go left


@dataclass(frozen=True)
class Tables:
    """Per-node traversal tables: true_child iff column value <= threshold (NaN: false)."""

    columns: Columns
    column: np.ndarray  # [M] int32
    threshold: np.ndarray  # [M] float32
    true_child: np.ndarray  # [M] int32
    false_child: np.ndarray  # [M] int32


def columns_for(keys: list[tuple[int, int, float]]) -> Columns:
    """Columns from (feature, kind, sign) keys, in order."""
    return Columns(
        np.array([k[0] for k in keys], dtype=np.int64),
        np.array([k[1] for k in keys], dtype=np.int64),
        np.array([k[2] for k in keys], dtype=np.float32),
    )


def signed_tables(forest: Forest) -> Tables:
    """Negate the column where NaN must go left: x > t iff -x <= -nextup32(t)."""
    split = ~forest.is_leaf
    flip = forest.nan_left & split
    sign = np.where(flip, -1.0, 1.0)
    keys = sorted(
        {
            (int(f), int(k), float(g))
            for f, k, g in zip(forest.feature[split], forest.kind[split], sign[split], strict=True)
        }
    )
    keys = keys or [(0, RAW, 1.0)]  # stumps only: one unused column keeps shapes valid
    index = {key: i for i, key in enumerate(keys)}
    column = [
        index.get((int(f), int(k), float(g)), 0)
        for f, k, g in zip(forest.feature, forest.kind, sign, strict=True)
    ]
    with np.errstate(over="ignore"):
        up = np.nextafter(forest.threshold, np.float32(np.inf))
    return Tables(
        columns=columns_for(keys),
        column=np.array(column, dtype=np.int32),
        threshold=np.where(flip, -up, forest.threshold).astype(np.float32),
        true_child=np.where(flip, forest.right, forest.left).astype(np.int32),
        false_child=np.where(flip, forest.left, forest.right).astype(np.int32),
    )


def augment_features(b: GraphBuilder, features: str, columns: Columns) -> str:
    """[N, K] float32 ``sign * transform(features[:, feature])`` (ZERO_AS_NAN: |x|<=z -> NaN)."""
    cols = b.op("Gather", features, b.const(columns.feature, "column_feature"), axis=1)
    zero_kind = columns.kind == ZERO_AS_NAN
    if zero_kind.any():
        zero = b.op("LessOrEqual", b.op("Abs", cols), b.const(ZERO_THRESHOLD, "zero_threshold"))
        if not zero_kind.all():
            zero = b.op("And", zero, b.const(zero_kind, "zero_as_nan"))
        cols = b.op("Where", zero, b.const(np.float32(np.nan), "nan"), cols)
    if (columns.sign < 0).any():
        cols = b.op("Mul", cols, b.const(columns.sign, "column_sign"))
    return cols


def traverse(
    b: GraphBuilder, columns: str, tables: Tables, forest: Forest, accumulate: str = "float64"
) -> str:
    """Margin [N] in ``accumulate`` precision: tree traversal over the augmented columns."""
    if accumulate not in ("float64", "float32"):
        raise ValueError(f"accumulate must be float64 or float32, not {accumulate!r}")
    values = forest.value.astype(accumulate)
    roots = forest.roots
    if forest.depth == 0:  # stumps only: a constant margin per row
        total = values[roots].sum(dtype=accumulate) * forest.scale
        rows = b.op(
            "Slice",
            b.op("Shape", columns),
            b.const(np.array([0]), "zero_i"),
            b.const(np.array([1]), "one_i"),
        )
        return b.op("Expand", b.const(np.array(total, dtype=accumulate), "margin"), rows)
    x = b.op("Gather", columns, b.const(tables.column[roots], "root_column"), axis=1)
    go = b.op("LessOrEqual", x, b.const(tables.threshold[roots], "root_threshold"))
    node = b.op(
        "Where",
        go,
        b.const(tables.true_child[roots], "root_true"),
        b.const(tables.false_child[roots], "root_false"),
    )
    column = b.const(tables.column, "column")
    threshold = b.const(tables.threshold, "threshold")
    true_child = b.const(tables.true_child, "true_child")
    false_child = b.const(tables.false_child, "false_child")
    for _ in range(forest.depth - 1):
        x = b.op("GatherElements", columns, b.op("Gather", column, node), axis=1)
        go = b.op("LessOrEqual", x, b.op("Gather", threshold, node))
        node = b.op(
            "Where", go, b.op("Gather", true_child, node), b.op("Gather", false_child, node)
        )
    leaf = b.op("Gather", b.const(values, "leaf_value"), node)
    margin = b.op("ReduceSum", leaf, b.const(np.array([1]), "axis"), keepdims=0)
    if forest.scale != 1.0:
        margin = b.op("Mul", margin, b.const(np.array(forest.scale, dtype=accumulate), "scale"))
    return margin


def forest_graph(
    b: GraphBuilder, features: str, forest: Forest, accumulate: str = "float64"
) -> tuple[str, str]:
    """(p_trees, margin), both float32 [N], appended to ``b``."""
    tables = signed_tables(forest)
    margin = traverse(b, augment_features(b, features, tables.columns), tables, forest, accumulate)
    z = margin
    if forest.sigmoid != 1.0:
        z = b.op("Mul", z, b.const(np.array(forest.sigmoid, dtype=accumulate), "sigmoid"))
    p = b.op("Sigmoid", z)
    if accumulate == "float64":
        p, margin = b.cast(p, FLOAT), b.cast(margin, FLOAT)
    return p, margin


def compile_booster(
    booster: object, n_features: int, accumulate: str = "float64"
) -> onnx.ModelProto:
    """Model "features" float32 [N, F] -> "p_trees", "margin" float32 [N], CUDA-friendly ops.

    The margin is what ``booster.predict(raw_score=True)`` returns: LightGBM folds its
    boost-from-average init score into the first tree's leaves, and a Dataset
    init_score is never part of the model, so there is no separate init score to add.
    """
    forest = forest_from_booster(booster)
    if n_features < forest.n_features:
        raise ValueError(
            f"the booster reads {forest.n_features} features, n_features is {n_features}"
        )
    b = GraphBuilder("trees")
    p, margin = forest_graph(b, "features", forest, accumulate)
    return trees_model(b, p, margin, n_features, "trees_gpu")


def trees_model(
    b: GraphBuilder, p: str, margin: str, n_features: int, name: str
) -> onnx.ModelProto:
    """The tree graph built in ``b`` as a model: "features" float32 [N, F] -> "p_trees",
    "margin" float32 [N] (the contract of both tree graphs, CPU and GPU)."""
    b.op("Identity", p, out="p_trees")
    b.op("Identity", margin, out="margin")
    return make_model(
        b.nodes,
        b.initializers,
        [tensor_input("features", FLOAT, n_features)],
        [tensor_input("p_trees", FLOAT), tensor_input("margin", FLOAT)],
        name,
    )
