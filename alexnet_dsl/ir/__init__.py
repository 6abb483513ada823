"""The intermediate representation: frozen layer nodes (nodes.py), symbolic sizes (expr.py), the graph
(graph.py: one topological order and the output layer)."""

from __future__ import annotations

from alexnet_dsl.ir.graph import output_layer, topological_order
from alexnet_dsl.ir.nodes import (
    LRN,
    Activation,
    AdaptiveAvgPool,
    Add,
    Assertion,
    BatchNorm,
    ChannelShuffle,
    Concat,
    Conv,
    Dim,
    Dropout,
    Flatten,
    FusedConv,
    GlobalPool,
    Invalid,
    Layer,
    Linear,
    Network,
    Op,
    Pair,
    Pool,
    op_name,
    paper_alpha,
)

__all__ = [
    "LRN",
    "Activation",
    "AdaptiveAvgPool",
    "Add",
    "Assertion",
    "BatchNorm",
    "ChannelShuffle",
    "Concat",
    "Conv",
    "Dim",
    "Dropout",
    "Flatten",
    "FusedConv",
    "GlobalPool",
    "Invalid",
    "Layer",
    "Linear",
    "Network",
    "Op",
    "Pair",
    "Pool",
    "op_name",
    "output_layer",
    "paper_alpha",
    "topological_order",
]
