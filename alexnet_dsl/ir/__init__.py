"""The intermediate representation: frozen layer nodes, symbolic sizes, the graph."""

from __future__ import annotations

from alexnet_dsl.ir.nodes import *  # noqa: F403
