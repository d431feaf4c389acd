"""Small helpers to build and compose ONNX graphs with one opset policy.

Every graph of the scorer uses ai.onnx opset 17 (torch's exporter writes 18, converted
down by ``models.export``; onnxmltools converts to opset 15 at most, but only its
TreeEnsemble node is kept),
ai.onnx.ml opset 3 where a TreeEnsemble op appears, and IR version 8, which ONNX
Runtime 1.23 loads (onnx 1.20 would otherwise stamp IR 13, which it refuses).
Graphs are merged by prefixing every value name but the shared inputs, so the two
scorer graphs are single flat graphs with one opset import per domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ML_OPSET = 3
IR_VERSION = 8
BATCH = "N"
FLOAT, DOUBLE, INT64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64


class GraphBuilder:
    """Accumulates nodes and constant initializers under unique, scoped names."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        """A new value name in this builder's scope."""
        self._count += 1
        return f"{self.scope}/{hint}_{self._count}"

    def const(self, value: object, hint: str = "const", dtype: object = None) -> str:
        """An initializer holding ``value`` (numpy dtype kept unless ``dtype`` is given)."""
        array = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(
        self,
        op_type: str,
        *inputs: str,
        out: str | None = None,
        domain: str = "",
        n_out: int = 1,
        **attrs: object,
    ) -> str:
        """Append one node; returns its (first) output name."""
        outputs = [out or self.fresh(op_type.lower())]
        outputs += [self.fresh(f"{op_type.lower()}_out{i}") for i in range(1, n_out)]
        self.nodes.append(
            helper.make_node(
                op_type, list(inputs), outputs, name=self.fresh(op_type), domain=domain, **attrs
            )
        )
        return outputs[0]

    def cast(self, name: str, to: int) -> str:
        return self.op("Cast", name, to=to)


def tensor_input(name: str, elem_type: int, width: int | None = None) -> onnx.ValueInfoProto:
    """[N] or [N, width] graph input/output with a symbolic batch dimension."""
    shape: list[object] = [BATCH] if width is None else [BATCH, width]
    return helper.make_tensor_value_info(name, elem_type, shape)


def make_model(
    nodes: Sequence[onnx.NodeProto],
    initializers: Sequence[onnx.TensorProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    name: str,
) -> onnx.ModelProto:
    """A checked model with this module's opsets (ai.onnx.ml only when used)."""
    opsets = [helper.make_opsetid("", OPSET)]
    if any(n.domain == "ai.onnx.ml" for n in nodes):
        opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    graph = helper.make_graph(
        list(nodes), name, list(inputs), list(outputs), initializer=list(initializers)
    )
    model = helper.make_model(
        graph, opset_imports=opsets, ir_version=IR_VERSION, producer_name="targeting"
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def check_opsets(model: onnx.ModelProto) -> None:
    """ValueError unless ``model`` uses this module's opsets (so graphs can be merged)."""
    for o in model.opset_import:
        want = (
            ML_OPSET if o.domain == "ai.onnx.ml" else OPSET if o.domain in ("", "ai.onnx") else None
        )
        if want is None or o.version != want:
            raise ValueError(
                f"{model.graph.name}: opset {o.domain or 'ai.onnx'} {o.version}, "
                f"expected ai.onnx {OPSET} / ai.onnx.ml {ML_OPSET}"
            )


def prefixed(
    model: onnx.ModelProto, prefix: str, keep: Iterable[str]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes and initializers of ``model`` with every value name but ``keep`` prefixed."""
    check_opsets(model)
    keep = set(keep)

    def rename(name: str) -> str:
        return name if not name or name in keep else prefix + name

    nodes = []
    for node in model.graph.node:
        if any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for a in node.attribute
        ):
            raise ValueError(f"{node.op_type} with a subgraph cannot be merged by prefixing")
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = prefix + node.name
        copy.input[:] = [rename(i) for i in node.input]
        copy.output[:] = [rename(o) for o in node.output]
        nodes.append(copy)
    initializers = []
    for init in model.graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        copy.name = rename(init.name)
        initializers.append(copy)
    return nodes, initializers


def output_names(model: onnx.ModelProto) -> list[str]:
    return [o.name for o in model.graph.output]
