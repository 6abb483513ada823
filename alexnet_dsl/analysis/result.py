"""The result of checking a spec, `Analysis`, and its JSON form: what `dslc check --format json` prints.

Editors and scripts read the JSON, so its keys are an interface. This module writes the keys of a
checked file and of each of its layers; the rest of the contract is written beside what it describes:
a diagnostic's keys (its span, notes, helps, fixes and related places) in `Diagnostic.to_json`
(diagnostics.py), an admissible set's `[lo, hi]` ranges in `IntSet.to_json` (intsets.py), and what the
CLI adds in cli/check.py: `error`, for a file named on the command line that cannot be read, and each
layer's `fused` in `dslc summary --format json`. Sizes are integers, or strings for symbolic ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alexnet_dsl import ir
from alexnet_dsl.analysis.intsets import IntSet
from alexnet_dsl.analysis.shapes import Constraint, LayerInfo, Shape
from alexnet_dsl.diagnostics import Diagnostic
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Source


@dataclass
class Analysis:
    """A checked spec: its network (None when it did not parse or lower), each layer's shape, parameters
    and MACs, the admissible values of each input symbol, and the diagnostics, in source order."""

    source: Source
    network: ir.Network | None = None
    infos: list[LayerInfo] = field(default_factory=list)
    output: Shape | None = None
    admissible: dict[str, IntSet] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # constraints between several symbols: the admissible sets are their projections, so compiled
    # modules check these on each input's actual sizes
    couplings: list[Constraint] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error (warnings and notes allowed)."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def params(self) -> int | None:
        """Trainable parameters; None when unknown (an unbound symbol, or no network was read)."""
        return _total(i.params for i in self.infos) if self.network is not None else None

    @property
    def macs(self) -> int | None:
        """Multiply-accumulates of one sample's forward pass; None when unknown."""
        return _total(i.macs for i in self.infos) if self.network is not None else None

    def to_json(self) -> dict:
        """The JSON contract; `admissible_modulo` is present only when a set is periodic."""
        net = self.network
        modulo = {
            s: {"modulus": v.mod, "residues": sorted(v.residues)}
            for s, v in self.admissible.items()
            if v.mod > 1
        }
        return {
            "file": self.source.path,
            "network": net.name if net else None,
            "ok": self.ok,
            "input": [_dim_json(d) for d in net.input_dims] if net else None,
            "output": [_dim_json(d) for d in self.output] if self.output is not None else None,
            "params": self.params,
            "macs": self.macs,
            "layers": [_layer_json(net, i) for i in self.infos],  # type: ignore[arg-type]
            "admissible": {s: v.to_json() for s, v in self.admissible.items()},
            **({"admissible_modulo": modulo} if modulo else {}),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


def _layer_json(net: ir.Network, info: LayerInfo) -> dict:
    layer = info.layer
    return {
        "name": layer.display_name,
        "op": ir.op_name(layer.op),
        "shape": [_dim_json(d) for d in info.shape] if info.shape is not None else None,
        "params": info.params,
        "macs": info.macs,
        "activation_bytes": info.activation_bytes,
        "line": layer.span.line,
        "inputs": [net.display_name(n) for n in layer.inputs],
    }


def _dim_json(d) -> int | str | None:
    if d is None:
        return None
    if isinstance(d, (int, str)):
        return d
    return E.show(d)


def _total(values) -> int | None:
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total
