"""What a generated module calls, swapped for forms the ONNX exporter writes faithfully.

LRN. The generated module calls its module-level helper `_lrn`; during the export that global is
swapped for `export_lrn`. Odd sizes go through the custom op `dslc::onnx_lrn`, which the exporter
writes as one ONNX `LRN` node; ONNX divides its alpha by the size, so the attribute is PyTorch's
alpha (`LRN.torch_alpha`, alpha * size). Even sizes are written out in plain ops (PyTorch's
`local_response_norm`), because onnxruntime refuses an even-size `LRN` and ONNX's even-size window
mirrors PyTorch's.

Ceil-mode pools. The module's `F` is swapped for one whose `max_pool2d` and `avg_pool2d` compute
ceil mode with floor-mode pools over more padding (see `ceil_extra`).
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator

from alexnet_dsl.extras import EXPORT_NEEDS, needs, require
from alexnet_dsl.ir.nodes import LRN

with needs("`alexnet_dsl.interop.onnx_ops`"):  # a missing extra is one line naming its `pip install`
    require(*EXPORT_NEEDS, what="`alexnet_dsl.interop.onnx_ops`")
    import torch
    import torch.nn.functional as F
    from torch import nn


# ---------------------------------------------------------------------------- LRN as one ONNX node


@torch.library.custom_op("dslc::onnx_lrn", mutates_args=())
def _lrn_op(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """The paper's LRN (alpha not divided by size) as one opaque op, for the exporter to translate."""
    return F.local_response_norm(x, size, LRN(size, alpha).torch_alpha, beta, k)


@_lrn_op.register_fake
def _lrn_op_fake(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    return torch.empty_like(x)


def export_lrn(
    x: torch.Tensor, size: int, alpha: float, beta: float, k: float, *, inplace: bool = False
) -> torch.Tensor:
    """Stands in for a generated module's `_lrn` while it is exported (always out of place)."""
    if size % 2 == 1:
        return torch.ops.dslc.onnx_lrn(x, size, alpha, beta, k)
    return F.local_response_norm(x, size, LRN(size, alpha).torch_alpha, beta, k)


def translation_table(opset: int) -> dict:
    """The exporter's `custom_translation_table`: `dslc::onnx_lrn` -> ONNX `LRN`, whose alpha is
    divided by the size."""
    from onnxscript import values

    op = values.Opset("", opset)

    def lrn(x, size: int, alpha: float, beta: float, k: float):
        return op.LRN(x, size=size, alpha=LRN(size, alpha).torch_alpha, beta=beta, bias=k)

    return {torch.ops.dslc.onnx_lrn.default: lrn}


@contextlib.contextmanager
def lrn_as_custom_op(model: nn.Module) -> Iterator[None]:
    """Swap the generated module's `_lrn` for `export_lrn` during the export."""
    module = sys.modules[type(model).__module__]
    original = getattr(module, "_lrn", None)
    if original is None:  # a network without LRN
        yield
        return
    module._lrn = export_lrn  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module._lrn = original  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- ceil-mode pools as floor-mode ones


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def ceil_extra(kernel: int, stride: int, padding: int) -> int:
    """Right padding that makes floor-mode pooling produce PyTorch's ceil-mode windows, for every input size.

    PyTorch: out = floor((in + 2p - k + s - 1) / s) + 1, less one when that last window would start at or past
    `in + p` (in the right padding); the two cases are min(A, B) of floor((in + 2p - k + 2s - 1) / s) and
    floor((in + p + s - 1) / s) (the number of starts left of `in + p`), which is floor((in + c) / s) with
    c the smaller constant. Floor mode over e more padding gives floor((in + 2p + e - k + s) / s): equal for
    e = min(s - 1, k - p - 1), which is >= 0 as PyTorch requires p <= k / 2.

    ONNX's `ceil_mode` cannot stand in: onnx's shape inference applies no such correction (the checker then
    rejects the exporter's own output shape), and runtimes have disagreed about it.

    >>> ceil_extra(kernel=3, stride=2, padding=0)
    1
    """
    return min(stride - 1, kernel - padding - 1)


def export_max_pool2d(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Stands in for `F.max_pool2d` while a generated module is exported: ceil mode becomes -inf padding on
    the right and bottom (a max ignores it, as PyTorch ignores the clipped part of a window) and floor mode."""
    if not ceil_mode or return_indices or _pair(dilation) != (1, 1):
        return F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    k, s, p = _pair(kernel_size), _pair(kernel_size if stride is None else stride), _pair(padding)
    extra = [ceil_extra(k[1], s[1], p[1]), ceil_extra(k[0], s[0], p[0])]
    x = F.pad(x, [0, extra[0], 0, extra[1]], value=-math.inf)
    return F.max_pool2d(x, k, s, p)


def export_avg_pool2d(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
) -> torch.Tensor:
    """Stands in for `F.avg_pool2d` while a generated module is exported. In ceil mode PyTorch divides by the
    part of a window inside input and padding (`count_include_pad`) or inside the input alone, never by the
    part past the padding, which floor mode over more padding would count: the sum and the count are pooled
    separately (zero padding, floor mode) and divided."""
    if not ceil_mode or divisor_override is not None:
        return F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    k, s, p = _pair(kernel_size), _pair(kernel_size if stride is None else stride), _pair(padding)
    extra = [ceil_extra(k[1], s[1], p[1]), ceil_extra(k[0], s[0], p[0])]
    pads = [p[1], p[1] + extra[0], p[0], p[0] + extra[1]]
    total = F.avg_pool2d(F.pad(x, pads), k, s)  # the window's sum / (k_h k_w)
    # what PyTorch counts: the input, and its padding with count_include_pad
    ones = torch.ones_like(x[:1, :1])
    if count_include_pad:
        counted = F.pad(F.pad(ones, [p[1], p[1], p[0], p[0]], value=1.0), [0, extra[0], 0, extra[1]])
    else:
        counted = F.pad(ones, pads)
    return total / F.avg_pool2d(counted, k, s)


class _PoolsForExport:
    """`torch.nn.functional` with `max_pool2d` and `avg_pool2d` replaced, for a generated module's `F`."""

    max_pool2d = staticmethod(export_max_pool2d)
    avg_pool2d = staticmethod(export_avg_pool2d)

    def __getattr__(self, name: str):
        return getattr(F, name)


@contextlib.contextmanager
def floor_mode_pools(model: nn.Module) -> Iterator[None]:
    """Swap the generated module's `F` for `_PoolsForExport` during the export (as `lrn_as_custom_op` does)."""
    module = sys.modules[type(model).__module__]
    # `F`, or `_F` where the network itself is called `F` (codegen renames its own import then)
    alias = next(name for name, value in vars(module).items() if value is F)
    setattr(module, alias, _PoolsForExport())
    try:
        yield
    finally:
        setattr(module, alias, F)
