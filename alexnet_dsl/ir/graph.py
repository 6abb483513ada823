"""The graph the layers form: ONE topological order and the layer whose value the network returns.

`ir.Network` computes both once, when it is built; every pass reads them from there (the checker infers
shapes in that order, codegen writes `forward` in it and returns the output layer, ONNX export names
that value the graph's output).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Protocol


class Node(Protocol):
    """What the graph reads of a layer (ir.Layer): its name and the names it reads."""

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> tuple[str, ...]: ...


def topological_order(layers: Sequence[Node]) -> tuple[int, ...]:
    """Kahn's algorithm taking the earliest ready layer first, so source order when it is valid.

    A name that is no layer (the network's input, or a reference lowering could not resolve) counts
    as available from the start; layers on a cycle, or reading a layer on a cycle, are left out (the
    checker reports them).

    >>> from alexnet_dsl.ir.nodes import Activation, Layer
    >>> from alexnet_dsl.source import Span
    >>> at = Span(1, 1, 1, 1)
    >>> a, b = Layer("a", Activation("relu"), ("b",), at, at), Layer("b", Activation("relu"), ("x",), at, at)
    >>> topological_order((a, b))
    (1, 0)
    """
    index = {layer.name: i for i, layer in enumerate(layers)}
    consumers: list[list[int]] = [[] for _ in layers]
    missing = [0] * len(layers)
    for i, layer in enumerate(layers):
        for name in layer.inputs:
            if name in index:
                consumers[index[name]].append(i)
                missing[i] += 1
    ready = [i for i in range(len(layers)) if missing[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in consumers[i]:
            missing[j] -= 1
            if missing[j] == 0:
                heapq.heappush(ready, j)
    return tuple(order)


def output_layer(layers: Sequence[Node], input_name: str) -> str:
    """The layer whose value a network returns. The language's rule: the last layer in source order,
    wherever it falls in dependency order (layers after it in dependency order are side branches); the
    input itself for a network without layers."""
    return layers[-1].name if layers else input_name
