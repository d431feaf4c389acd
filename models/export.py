"""Export of the whole scorer to ONNX: trees (CPU and CUDA variants), network, blend.

``export_scorer`` writes five graphs. The two ``scorer_*`` graphs are single graphs
(trees + network + blend + calibration), so serving runs one session per request.
They differ only in the tree part: ``cpu`` uses ai.onnx.ml TreeEnsembleRegressor
(fast on CPU, CPU-only in ONNX Runtime), ``gpu`` the tensor-compiled trees of
``models.tree_tensors`` (plain ops with CUDA kernels). Heavy imports (torch,
onnxmltools) live here, never in ``models.runtime``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import version_converter
from torch import nn

from models.blend import Blend
from models.network import RiskNet
from models.onnx_blend import blend_graph
from models.onnx_graphs import (
    FLOAT,
    INT64,
    IR_VERSION,
    OPSET,
    GraphBuilder,
    make_model,
    output_names,
    prefixed,
    tensor_input,
)
from models.tree_dump import forest_from_booster
from models.tree_ensemble import convert_booster
from models.tree_tensors import compile_booster

N_CODES = 5
NETWORK_OUTPUTS = ("p_network", "log_revenue", "risk_probs")
EXPORT_OPSET = 18  # the lowest opset torch's current exporter implements


class _Served(nn.Module):
    """RiskNet with the serving heads: sigmoid, identity, softmax."""

    def __init__(self, net: RiskNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logit, log_revenue, risk = self.net(features, codes)
        return torch.sigmoid(logit), log_revenue, torch.softmax(risk, dim=1)


def export_network(net: RiskNet, n_features: int) -> onnx.ModelProto:
    """The network's graph: features, codes -> p_network, log_revenue, risk_probs [N, K].

    Exported with torch's current (``torch.export``-based) exporter at opset
    ``EXPORT_OPSET``, its lowest, then converted down to the scorer's ``OPSET`` so the
    graph merges with the tree graphs.
    """
    features = torch.zeros(2, n_features, dtype=torch.float32)
    codes = torch.zeros(2, N_CODES, dtype=torch.int64)
    batch = torch.export.Dim("N")
    with _quiet_exporter():
        program = torch.onnx.export(
            _Served(net).eval(),
            (features, codes),
            dynamo=True,
            opset_version=EXPORT_OPSET,
            input_names=["features", "codes"],
            output_names=list(NETWORK_OUTPUTS),
            dynamic_shapes={"features": {0: batch}, "codes": {0: batch}},
            optimize=True,
            verbose=False,
        )
    model = program.model_proto
    if OPSET != EXPORT_OPSET:
        model = version_converter.convert_version(model, OPSET)
    del model.graph.value_info[:]  # names are rewritten when merged; ORT re-infers shapes
    model.ir_version = min(model.ir_version, IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    return model


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what torch's exporter says about itself, at this call only: its registry's
    "torchvision is not installed" lines, the INFO lines of its optimiser passes
    (onnx_ir, onnxscript) and two warnings of its own internals (a
    deprecated ``LeafSpec`` check inside torch, and the note that both inputs share the
    batch dimension ``N``, which is what is asked)."""
    loggers = {
        name: logging.getLogger(name)
        for name in (
            "torch.onnx._internal.exporter._registration",
            "onnx_ir",  # its optimisation passes' INFO lines (nodes removed, ...)
            "onnxscript",
        )
    }
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r".*axis name: N will not be used.*")
            yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


def _tree_model(booster: object, n_features: int, device: str) -> onnx.ModelProto:
    if device == "cpu":
        return convert_booster(booster, n_features)
    return compile_booster(booster, n_features)


def scorer_model(
    trees: onnx.ModelProto, network: onnx.ModelProto, blend: Blend, n_features: int, name: str
) -> onnx.ModelProto:
    """One graph: features, codes -> score, p_trees, p_network, expected_revenue, risk_probs."""
    shared = {"features", "codes"}
    tree_nodes, tree_inits = prefixed(trees, "trees/", shared)
    net_nodes, net_inits = prefixed(network, "network/", shared)
    if "p_trees" not in output_names(trees):
        raise ValueError("the tree graph has no p_trees output")
    b = GraphBuilder("blend")
    score, expected = blend_graph(
        b, "trees/p_trees", "network/p_network", "network/log_revenue", blend
    )
    b.op("Identity", score, out="score")
    b.op("Identity", expected, out="expected_revenue")
    b.op("Identity", "trees/p_trees", out="p_trees")
    b.op("Identity", "network/p_network", out="p_network")
    b.op("Identity", "network/risk_probs", out="risk_probs")
    n_risk = network.graph.output[2].type.tensor_type.shape.dim[1].dim_value or None
    outputs = [
        tensor_input(n, FLOAT) for n in ("score", "p_trees", "p_network", "expected_revenue")
    ]
    outputs.append(tensor_input("risk_probs", FLOAT, n_risk))
    return make_model(
        [*tree_nodes, *net_nodes, *b.nodes],
        [*tree_inits, *net_inits, *b.initializers],
        [tensor_input("features", FLOAT, n_features), tensor_input("codes", INT64, N_CODES)],
        outputs,
        name,
    )


def export_scorer(
    booster: object, net: RiskNet, blend: Blend, n_features: int, directory: str | Path
) -> dict[str, Path]:
    """Write trees_cpu, trees_gpu, network, scorer_cpu and scorer_gpu .onnx; their paths."""
    forest_from_booster(booster)  # fail early (categorical splits, non-binary objective)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    network = export_network(net, n_features)
    models = {"network": network}
    for device in ("cpu", "gpu"):
        trees = _tree_model(booster, n_features, device)
        models[f"trees_{device}"] = trees
        models[f"scorer_{device}"] = scorer_model(
            trees, network, blend, n_features, f"scorer_{device}"
        )
    paths = {}
    for name, model in models.items():
        paths[name] = directory / f"{name}.onnx"
        onnx.save_model(model, paths[name])
    return paths


def reference_scores(
    booster: object, net: RiskNet, blend: Blend, features: np.ndarray, codes: np.ndarray
) -> dict[str, np.ndarray]:
    """What the scorer graphs compute, from native LightGBM, torch and numpy (for checks)."""
    from models.train_network import predict_network

    p_trees = booster.predict(features)  # type: ignore[attr-defined]
    out = predict_network(net, features, codes)
    score = blend.score(p_trees, out["p"])
    return {
        "score": score,
        "p_trees": p_trees,
        "p_network": out["p"],
        "expected_revenue": blend.expected_revenue(score, out["log_revenue"]),
        "risk_probs": out["risk"],
    }
