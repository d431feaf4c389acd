"""LightGBM trees as ONNX Runtime's TreeEnsembleRegressor (CPU), made exact.

onnxmltools' converter (capped at ai.onnx opset 15 in 1.16) writes each threshold as
the *nearest* float32 and approximates the missing-value rules (``missing_type`` None
and Zero are not LightGBM's), and LightGBM's zeroing of ``|x| <= 1e-35`` is absent:
on data with NaNs and values at the thresholds its probabilities are off by up to 0.6.
So the converted node keeps onnxmltools' tree layout and ids, and its split attributes
are rewritten from ``models.tree_dump``'s exact tables, in the signed form of
``models.tree_tensors`` (a Gather and a Mul in front of the node build the columns;
NaN always takes the false branch). ONNX Runtime's own missing-value tracking on raw
features would need no extra ops but measured 5-10 % slower per row (500 trees, 130
features) than the signed columns, whose tree walk takes ORT's no-missing fast path.

The node becomes a TreeEnsembleRegressor summing raw leaf values, followed by a
Sigmoid: ONNX Runtime's binary TreeEnsembleClassifier skips its LOGISTIC transform when
all leaf weights are >= 0 and returns the raw sum as the probability (seen with a
one-tree model of a 90 %-positive label: 2.18 instead of 0.898).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from models.onnx_graphs import DOUBLE, FLOAT, GraphBuilder
from models.tree_dump import Forest, forest_from_booster
from models.tree_tensors import Tables, augment_features, signed_tables, trees_model

CONVERTER_OPSET = 15  # the highest ai.onnx opset onnxmltools 1.16 converts to


def _converted_node(booster: object, n_features: int) -> onnx.NodeProto:
    """The TreeEnsembleClassifier node onnxmltools writes for ``booster``."""
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = onnxmltools.convert_lightgbm(
        booster,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        zipmap=False,
        target_opset=CONVERTER_OPSET,
    )
    nodes = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(nodes) != 1:
        raise RuntimeError(
            f"expected one TreeEnsembleClassifier from onnxmltools, got "
            f"{[n.op_type for n in model.graph.node]}"
        )
    return nodes[0]


def _match(attrs: dict[str, list], forest: Forest) -> tuple[np.ndarray, np.ndarray]:
    """For each forest node, its position in the nodes_* lists and its ONNX node id."""
    where = {
        (t, n): i
        for i, (t, n) in enumerate(zip(attrs["nodes_treeids"], attrs["nodes_nodeids"], strict=True))
    }
    position = np.full(len(forest.value), -1, dtype=np.int64)
    node_id = np.full(len(forest.value), -1, dtype=np.int64)
    for tree, root in enumerate(forest.roots):
        stack = [(0, int(root))]
        while stack:
            nid, k = stack.pop()
            i = where[(tree, nid)]
            position[k], node_id[k] = i, nid
            leaf = attrs["nodes_modes"][i] == b"LEAF"
            if leaf != bool(forest.is_leaf[k]) or (
                not leaf and attrs["nodes_featureids"][i] != forest.feature[k]
            ):
                raise RuntimeError(f"onnxmltools' tree {tree} differs from the dump at node {nid}")
            if not leaf:
                stack += [
                    (attrs["nodes_truenodeids"][i], int(forest.left[k])),
                    (attrs["nodes_falsenodeids"][i], int(forest.right[k])),
                ]
    if (position < 0).any():
        raise RuntimeError("some dumped nodes were not found in onnxmltools' ensemble")
    return position, node_id


def _exact_node(
    node: onnx.NodeProto, forest: Forest, tables: Tables, columns: str, margin: str
) -> onnx.NodeProto:
    """``node``'s trees as a TreeEnsembleRegressor (sum of leaves), splits made exact."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    position, node_id = _match(attrs, forest)
    for name in (
        "nodes_featureids",
        "nodes_values",
        "nodes_modes",
        "nodes_truenodeids",
        "nodes_falsenodeids",
        "nodes_missing_value_tracks_true",
    ):
        attrs[name] = list(attrs[name])
    for k in np.flatnonzero(~forest.is_leaf):
        i = position[k]
        attrs["nodes_featureids"][i] = int(tables.column[k])
        attrs["nodes_values"][i] = float(tables.threshold[k])  # a float32, stored exactly
        attrs["nodes_modes"][i] = "BRANCH_LEQ"
        attrs["nodes_truenodeids"][i] = int(node_id[tables.true_child[k]])
        attrs["nodes_falsenodeids"][i] = int(node_id[tables.false_child[k]])
        attrs["nodes_missing_value_tracks_true"][i] = 0  # NaN: false branch, by the tables
    attrs["nodes_modes"] = [m.decode() if isinstance(m, bytes) else m for m in attrs["nodes_modes"]]
    leaf_of = {
        (int(t), int(node_id[k])): k
        for t, root in enumerate(forest.roots)
        for k in _leaves(forest, int(root))
    }
    weights = [
        float(forest.value[leaf_of[(t, n)]] * forest.scale)
        for t, n in zip(attrs["class_treeids"], attrs["class_nodeids"], strict=True)
    ]
    regressor = {k: v for k, v in attrs.items() if k.startswith("nodes_")}
    regressor.update(
        target_treeids=attrs["class_treeids"],
        target_nodeids=attrs["class_nodeids"],
        target_ids=[0] * len(weights),
        target_weights=weights,
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
    )
    return helper.make_node(
        "TreeEnsembleRegressor",
        [columns],
        [margin],
        name="trees/ensemble",
        domain="ai.onnx.ml",
        **regressor,
    )


def _leaves(forest: Forest, root: int) -> list[int]:
    out, stack = [], [root]
    while stack:
        k = stack.pop()
        if forest.is_leaf[k]:
            out.append(k)
        else:
            stack += [int(forest.left[k]), int(forest.right[k])]
    return out


def ensemble_graph(
    b: GraphBuilder, features: str, booster: object, n_features: int
) -> tuple[str, str]:
    """Append the exact CPU tree ensemble to ``b``; returns (p_trees, margin), float32 [N]."""
    forest = forest_from_booster(booster)
    if n_features < forest.n_features:
        raise ValueError(
            f"the booster reads {forest.n_features} features, n_features is {n_features}"
        )
    tables = signed_tables(forest)
    columns = augment_features(b, features, tables.columns)
    summed = b.fresh("margin")
    b.nodes.append(
        _exact_node(_converted_node(booster, n_features), forest, tables, columns, summed)
    )
    margin = b.op("Reshape", summed, b.const(np.array([-1]), "flat"))
    z = b.cast(margin, DOUBLE)
    if forest.sigmoid != 1.0:
        z = b.op("Mul", z, b.const(forest.sigmoid, "sigmoid"))
    return b.cast(b.op("Sigmoid", z), FLOAT), margin


def convert_booster(booster: object, n_features: int) -> onnx.ModelProto:
    """Model "features" float32 [N, F] -> "p_trees", "margin" float32 [N] (ai.onnx.ml trees)."""
    b = GraphBuilder("trees")
    p, margin = ensemble_graph(b, "features", booster, n_features)
    return trees_model(b, p, margin, n_features, "trees_cpu")
