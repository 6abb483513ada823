"""Each IR op as generated code: the submodule `__init__` builds for it, if any, and the expression
`forward` computes it with.

`OP_CODE` has one entry per IR node type (and `ACTIVATIONS` one per activation), so a new op is one
entry here. The expressions use the generated module's imports (`torch`, `F`, `nn`) and the runtime
helpers (`_lrn`, `_fast_call`, `_fused_conv`); an entry that calls one names it in `helper` (a key of
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
    return _conv_like("Conv2d", op, in_shape)


def _conv_like(cls: str, op: ir.Conv | ir.ConvTranspose, in_shape: Shape) -> str:
    """`nn.Conv2d(...)` or `nn.ConvTranspose2d(...)` with the arguments that differ from PyTorch's defaults."""
    args = [str(in_shape[1]), str(op.filters), f"kernel_size={_pair(op.kernel)}"]
    for key, default in (
        ("stride", (1, 1)),
        ("padding", (0, 0)),
        ("output_padding", (0, 0)),
        ("dilation", (1, 1)),
    ):
        value = getattr(op, key, default)  # a conv has no output_padding
        if value == "same":
            args.append("padding='same'")
        elif value != default:
            args.append(f"{key}={_pair(value)}")
    if op.groups != 1:
        args.append(f"groups={op.groups}")
    if not op.bias:
        args.append("bias=False")
    return f"nn.{cls}({', '.join(args)})"


def _linear_module(op: ir.Linear, in_shape: Shape) -> str:
    return f"nn.Linear({in_shape[1]}, {op.features}{'' if op.bias else ', bias=False'})"


def _batch_norm_module(op: ir.BatchNorm, in_shape: Shape) -> str:
    kind = "BatchNorm2d" if len(in_shape) == 4 else "BatchNorm1d"
    eps = f", eps={op.eps!r}" if op.eps != 1e-5 else ""
    momentum = f", momentum={op.momentum!r}" if op.momentum != 0.1 else ""
    return f"nn.{kind}({in_shape[1]}{eps}{momentum})"


def _layer_norm_module(op: ir.LayerNorm, in_shape: Shape) -> str:
    return f"nn.LayerNorm({in_shape[1]}{f', eps={op.eps!r}' if op.eps != 1e-5 else ''})"


def _scale_module(op: ir.Scale, in_shape: Shape) -> str:
    """A parameter, not a module: its state_dict key is the layer's name, as ConvNeXt's `layer_scale`."""
    shape = f"({in_shape[1]}, 1, 1)" if len(in_shape) == 4 else f"({in_shape[1]},)"
    return f"nn.Parameter(torch.full({shape}, {op.init!r}))"


def _upsample_call(c: Call) -> str:
    op: ir.Upsample = c.op
    corners = (
        ", align_corners=True"
        if op.align_corners
        else ", align_corners=False"
        if op.mode == "bilinear"
        else ""
    )
    return f"F.interpolate({c.x}, scale_factor={_pair(op.scale)}, mode={op.mode!r}{corners})"


def _fused_call(c: Call) -> str:
    """`_fused_conv(x, self.conv1, "relu", lrn=(5, 0.0001, 0.75, 2.0))`, `_fused_conv(x, self.c, "silu",
    bn=self.bn)`: the activation as its kind, or (kind, argument) for leaky_relu's slope and elu's alpha."""
    op: ir.FusedConv = c.op
    act = op.activation
    if act is None:
        args = ["None"]
    elif act.kind in ("leaky_relu", "elu"):
        args = [f"({act.kind!r}, {act.params[0][1]!r})"]
    else:
        args = [repr(act.kind)]
    if op.lrn is not None:
        lrn = op.lrn
        args.append(f"lrn=({lrn.size}, {lrn.alpha!r}, {lrn.beta!r}, {lrn.k!r})")
    if op.batchnorm is not None:
        args.append(f"bn=self.{attr_path(op.parts[1])}")
    return f"_fused_conv({c.x}, {c.attr}, {', '.join(args)})"


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
    "gelu": lambda c: (
        f"F.gelu({c.x}, approximate='tanh')" if c.op.param("approximate") == "tanh" else f"F.gelu({c.x})"
    ),
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
    ir.Mul: OpCode(lambda c: " * ".join(c.args)),
    ir.Chunk: OpCode(lambda c: f"{c.x}.chunk({c.op.parts}, 1)[{c.op.index}]"),
    ir.Scale: OpCode(lambda c: f"{c.x} * {c.attr}", module=_scale_module),
    ir.StochasticDepth: OpCode(
        lambda c: f"_stochastic_depth({c.x}, {c.op.p!r}, {c.op.mode!r}, self.training)",
        helper="stochastic_depth",
    ),
    ir.Upsample: OpCode(_upsample_call),
    ir.ConvTranspose: OpCode(
        lambda c: f"{c.attr}({c.x})", module=lambda op, in_shape: _conv_like("ConvTranspose2d", op, in_shape)
    ),
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


def submodules(layer: ir.Layer, in_shape: Shape) -> list[tuple[str, str]]:
    """(layer name, submodule) for each module `__init__` builds for `layer`: none for an op without
    parameters, one for most, the conv's and the batchnorm's (under its own name) for a fused conv +
    batchnorm, so that state dicts keep one layout whatever the backend."""
    expr = module_expr(layer, in_shape)
    out = [] if expr is None else [(layer.name, expr)]
    op = layer.op
    if isinstance(op, ir.FusedConv) and op.batchnorm is not None:
        conv_out = (*in_shape[:1], op.conv.filters, *in_shape[2:])  # a rank-4 shape with the conv's channels
        out.append((op.parts[1], _batch_norm_module(op.batchnorm, conv_out)))
    return out


def call_expr(layer: ir.Layer, args: tuple[str, ...], inplace: bool) -> str:
    """The expression computing `layer` from the variables `args` hold (`F.relu(x, inplace=True)`)."""
    return _entry(layer.op).call(Call(layer.op, f"self.{attr_path(layer.name)}", args, inplace))


def helper(op: ir.Op) -> str | None:
    """The runtime helper the op's expression calls, if any."""
    return _entry(op).helper
