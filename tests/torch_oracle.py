"""An independent torch oracle for shapes: build each layer of a lowered network directly from
its IR arguments with torch.nn (not through alexnet_dsl's compiler) and run it on the meta device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from alexnet_dsl import ir

# Each activation of the language as PyTorch computes it (written here, not taken from the compiler).
ACTIVATIONS = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda t: F.softmax(t, dim=1),
    "identity": lambda t: t,
    "relu6": F.relu6,
    "leaky_relu": lambda t, slope: F.leaky_relu(t, slope),
    "elu": lambda t, alpha: F.elu(t, alpha),
    "gelu": lambda t, approximate: F.gelu(t, approximate=approximate),
    "silu": F.silu,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
}


def activation(op: ir.Activation):
    """The activation `op` as a function of a tensor, its arguments bound."""
    fn, params = ACTIVATIONS[op.kind], dict(op.params)
    return lambda t: fn(t, **params)


class _ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over dim 1 (ConvNeXt's LayerNorm2d), written as torchvision writes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (
            super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) if x.dim() == 4 else super().forward(x)
        )


class _Scale(nn.Module):
    """A learned factor per channel, as ConvNeXt's layer scale."""

    def __init__(self, channels: int, rank: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,) + (1,) * (rank - 2), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class _Elementwise(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def torch_layer(op, in_shape: tuple[int, ...]) -> nn.Module | None:
    if isinstance(op, ir.Conv):
        return nn.Conv2d(
            in_shape[1], op.filters, op.kernel, op.stride, op.padding, op.dilation, op.groups, op.bias
        )
    if isinstance(op, ir.ConvTranspose):
        return nn.ConvTranspose2d(
            in_shape[1],
            op.filters,
            op.kernel,
            op.stride,
            op.padding,
            op.output_padding,
            op.groups,
            op.bias,
            op.dilation,
        )
    if isinstance(op, ir.Upsample):
        corners = op.align_corners if op.mode == "bilinear" else None
        return nn.Upsample(scale_factor=op.scale, mode=op.mode, align_corners=corners)
    if isinstance(op, ir.Scale):
        return _Scale(in_shape[1], len(in_shape), op.init)
    if isinstance(op, ir.Chunk):
        return _Elementwise(lambda t: torch.chunk(t, op.parts, dim=1)[op.index])
    if isinstance(op, ir.StochasticDepth):
        return nn.Identity()  # eval
    if isinstance(op, ir.Pool):
        if op.kind == "max":
            return nn.MaxPool2d(op.kernel, op.stride, op.padding, ceil_mode=op.ceil)
        return nn.AvgPool2d(
            op.kernel, op.stride, op.padding, ceil_mode=op.ceil, count_include_pad=op.count_include_pad
        )
    if isinstance(op, ir.AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(op.output)
    if isinstance(op, ir.LayerNorm):
        return _ChannelLayerNorm(in_shape[1], op.eps)
    if isinstance(op, ir.ChannelShuffle):
        return nn.ChannelShuffle(op.groups)
    if isinstance(op, ir.GlobalPool):
        reduce = torch.mean if op.kind == "avg" else torch.amax
        return _Elementwise(lambda t: reduce(t, (2, 3), keepdim=op.keepdims))
    if isinstance(op, ir.LRN):
        return nn.LocalResponseNorm(op.size, op.alpha * op.size, op.beta, op.k)
    if isinstance(op, ir.BatchNorm):
        return (nn.BatchNorm2d if len(in_shape) == 4 else nn.BatchNorm1d)(in_shape[1])
    if isinstance(op, ir.Dropout):
        return nn.Dropout(op.p)
    if isinstance(op, ir.Flatten):
        return nn.Flatten()
    if isinstance(op, ir.Linear):
        return nn.Linear(in_shape[-1], op.features, op.bias)
    if isinstance(op, ir.Activation):
        return _Elementwise(activation(op))
    return None


def run_meta(net: ir.Network, input_shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], int]:
    """Every layer's output shape and the parameter count, as torch computes them."""
    index = {layer.name: layer for layer in net.layers}
    values: dict[str, torch.Tensor] = {net.input_name: torch.empty(input_shape, device="meta")}
    params = 0
    pending = list(net.layers)
    while pending:  # layers may refer forward: run each once its inputs exist
        progress = False
        for layer in list(pending):
            if not all(n in values for n in layer.inputs):
                continue
            xs = [values[n] for n in layer.inputs]
            if isinstance(layer.op, ir.Add):
                out = xs[0]
                for x in xs[1:]:
                    out = out + x
            elif isinstance(layer.op, ir.Mul):
                out = xs[0]
                for x in xs[1:]:
                    out = out * x
            elif isinstance(layer.op, ir.Concat):
                out = torch.cat(xs, dim=1)
            else:
                module = torch_layer(layer.op, tuple(xs[0].shape)).to("meta")
                params += sum(p.numel() for p in module.parameters())
                if isinstance(layer.op, ir.Linear) and xs[0].dim() != 2:
                    raise RuntimeError("linear on a tensor that is not [N, features]")
                if isinstance(layer.op, ir.LRN) and xs[0].dim() != 4:
                    raise RuntimeError("lrn on a tensor that is not [N, C, H, W]")
                out = module(xs[0])
            values[layer.name] = out
            pending.remove(layer)
            progress = True
        assert progress, f"unresolvable inputs in {[layer.name for layer in pending]} ({index.keys()})"
    return {name: tuple(v.shape) for name, v in values.items() if name != net.input_name}, params
