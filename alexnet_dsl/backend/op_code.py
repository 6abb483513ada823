"""Each IR op as generated code: the submodule `__init__` builds for it, if any, and the expression
`forward` computes it with.

`OP_CODE` has one entry per IR node type (and `ACTIVATIONS` one per activation), so a new op is one
entry here. The expressions use the generated module's imports (`torch`, `F`, `nn`) and the runtime
helpers (`_lrn`, `_fast_call`, `_conv_relu_lrn`); an entry that calls one names it in `helper` (a key of
`prelude.HELPERS`, which lists the runtime regions each helper needs), so that the generated file defines it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alexnet_dsl import ir
from alexnet_dsl.analysis.shapes import Shape
from alexnet_dsl.backend.names import attr_path


@dataclass(frozen=True)
class Call:
    """What a layer's expression is written from."""

    op: Any  # the layer's op, of the entry's type
    attr: str  # the layer's submodule, `self.conv1` (read by the ops that have one)
    args: tuple[str, ...]  # the variables holding its inputs
    inplace: bool  # whether it may overwrite its input (plan.py decides)

    @property
    def x(self) -> str:
        """The (first) input."""
        return self.args[0] if self.args else ""


@dataclass(frozen=True)
class OpCode:
    """How one IR op is written: `call` gives the expression computing a layer's value; `module`, for the
    ops with parameters, the submodule built in `__init__` from the op and its input's shape."""

    call: Callable[[Call], str]
    module: Callable[[Any, Shape], str] | None = None
    helper: str | None = None  # the runtime helper the expression calls: a key of prelude.HELPERS


def _pair(p) -> str:
    """A pair as a tuple literal: `(3, 3)`."""
    return f"({p[0]}, {p[1]})"


def _conv_module(op: ir.Conv, in_shape: Shape) -> str:
    args = [str(in_shape[1]), str(op.filters), f"kernel_size={_pair(op.kernel)}"]
    if op.stride != (1, 1):
        args.append(f"stride={_pair(op.stride)}")
    if op.padding == "same":
        args.append("padding='same'")
    elif op.padding != (0, 0):
        args.append(f"padding={_pair(op.padding)}")
    if op.dilation != (1, 1):
        args.append(f"dilation={_pair(op.dilation)}")
    if op.groups != 1:
        args.append(f"groups={op.groups}")
    if not op.bias:
        args.append("bias=False")
    return f"nn.Conv2d({', '.join(args)})"


def _linear_module(op: ir.Linear, in_shape: Shape) -> str:
    return f"nn.Linear({in_shape[1]}, {op.features}{'' if op.bias else ', bias=False'})"


def _batch_norm_module(op: ir.BatchNorm, in_shape: Shape) -> str:
    kind = "BatchNorm2d" if len(in_shape) == 4 else "BatchNorm1d"
    eps = f", eps={op.eps!r}" if op.eps != 1e-5 else ""
    momentum = f", momentum={op.momentum!r}" if op.momentum != 0.1 else ""
    return f"nn.{kind}({in_shape[1]}{eps}{momentum})"


def _layer_norm_module(op: ir.LayerNorm, in_shape: Shape) -> str:
    return f"nn.LayerNorm({in_shape[1]}{f', eps={op.eps!r}' if op.eps != 1e-5 else ''})"


def _fused_call(c: Call) -> str:
    lrn = c.op.lrn
    params = "None" if lrn is None else f"({lrn.size}, {lrn.alpha!r}, {lrn.beta!r}, {lrn.k!r})"
    return f"_conv_relu_lrn({c.x}, {c.attr}, lrn={params})"


def _pool_call(c: Call) -> str:
    op: ir.Pool = c.op
    extra = ""
    if op.padding != (0, 0):
        extra += f", padding={_pair(op.padding)}"
    if op.ceil:
        extra += ", ceil_mode=True"
    if op.kind == "max":
        return f"F.max_pool2d({c.x}, {_pair(op.kernel)}, {_pair(op.stride)}{extra})"
    if not op.count_include_pad:
        extra += ", count_include_pad=False"
    return f"F.avg_pool2d({c.x}, {_pair(op.kernel)}, {_pair(op.stride)}{extra})"


def _global_pool_call(c: Call) -> str:
    op: ir.GlobalPool = c.op
    keep = ", keepdim=True" if op.keepdims else ""
    return f"{c.x}.mean((2, 3){keep})" if op.kind == "avg" else f"torch.amax({c.x}, (2, 3){keep})"


def _lrn_call(c: Call) -> str:
    op: ir.LRN = c.op
    extra = ", inplace=True" if c.inplace else ""
    return f"_lrn({c.x}, {op.size}, {op.alpha!r}, {op.beta!r}, {op.k!r}{extra})"


def _param(c: Call, key: str) -> str:
    """An activation's argument as a Python literal."""
    return repr(dict(c.op.params)[key])


ACTIVATIONS: dict[str, Callable[[Call], str]] = {
    "relu": lambda c: f"F.relu({c.x}, inplace=True)" if c.inplace else f"F.relu({c.x})",
    "tanh": lambda c: f"torch.tanh({c.x})",
    "sigmoid": lambda c: f"torch.sigmoid({c.x})",
    "softmax": lambda c: f"F.softmax({c.x}, dim=1)",
    "identity": lambda c: c.x,
    "relu6": lambda c: f"F.relu6({c.x})",
    "leaky_relu": lambda c: f"F.leaky_relu({c.x}, {_param(c, 'slope')})",
    "elu": lambda c: f"F.elu({c.x}, {_param(c, 'alpha')})",
    "gelu": lambda c: f"F.gelu({c.x})",
    "silu": lambda c: f"F.silu({c.x})",
    "mish": lambda c: f"F.mish({c.x})",
    "hardswish": lambda c: f"F.hardswish({c.x})",
    "hardsigmoid": lambda c: f"F.hardsigmoid({c.x})",
}

OP_CODE: dict[type, OpCode] = {
    ir.Conv: OpCode(lambda c: f"{c.attr}({c.x})", module=_conv_module),
    ir.FusedConv: OpCode(
        _fused_call, module=lambda op, in_shape: _conv_module(op.conv, in_shape), helper="fused"
    ),
    # Called as its module (hooks, quantize_dynamic, a replaced head), with its F.linear on oneDNN's
    # matmul when no gradient is needed: twice MKL's speed here
    ir.Linear: OpCode(lambda c: f"_fast_call({c.attr}, {c.x})", module=_linear_module, helper="linear"),
    ir.BatchNorm: OpCode(lambda c: f"{c.attr}({c.x})", module=_batch_norm_module),
    # over the channels: moved last (a no-op for [N, C]), normalised, moved back
    ir.LayerNorm: OpCode(
        lambda c: f"{c.attr}({c.x}.movedim(1, -1)).movedim(-1, 1)", module=_layer_norm_module
    ),
    ir.Pool: OpCode(_pool_call),
    ir.AdaptiveAvgPool: OpCode(lambda c: f"F.adaptive_avg_pool2d({c.x}, {_pair(c.op.output)})"),
    ir.GlobalPool: OpCode(_global_pool_call),
    # as rows of C/groups read column by column: view, transpose, copy (what ONNX exporters write)
    ir.ChannelShuffle: OpCode(
        lambda c: f"{c.x}.unflatten(1, ({c.op.groups}, -1)).transpose(1, 2).flatten(1, 2)"
    ),
    ir.LRN: OpCode(_lrn_call, helper="lrn"),
    ir.Dropout: OpCode(lambda c: f"F.dropout({c.x}, {c.op.p!r}, self.training)"),
    ir.Flatten: OpCode(lambda c: f"torch.flatten({c.x}, 1)"),
    ir.Activation: OpCode(lambda c: ACTIVATIONS[c.op.kind](c)),
    ir.Add: OpCode(lambda c: " + ".join(c.args)),
    ir.Concat: OpCode(lambda c: f"torch.cat(({', '.join(c.args)}), dim=1)"),
}


def _entry(op: ir.Op) -> OpCode:
    entry = OP_CODE.get(type(op))
    assert entry is not None, f"no code for {op}"
    return entry


def module_expr(layer: ir.Layer, in_shape: Shape) -> str | None:
    """The submodule `__init__` builds for `layer` (`nn.Conv2d(3, 96, ...)`), or None for an op without
    parameters."""
    entry = _entry(layer.op)
    return None if entry.module is None else entry.module(layer.op, in_shape)


def call_expr(layer: ir.Layer, args: tuple[str, ...], inplace: bool) -> str:
    """The expression computing `layer` from the variables `args` hold (`F.relu(x, inplace=True)`)."""
    return _entry(layer.op).call(Call(layer.op, f"self.{attr_path(layer.name)}", args, inplace))


def helper(op: ir.Op) -> str | None:
    """The runtime helper the op's expression calls, if any."""
    return _entry(op).helper
