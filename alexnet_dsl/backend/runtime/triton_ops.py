"""The fused conv (-> batchnorm) (-> activation) (-> LRN) of the triton backend, written as generated modules contain
it (`backend/prelude.py` copies the region below).

The fused kernel stands in for calling the conv module only while that call would run nn.Conv2d.forward alone:
with a hook on the conv (or the conv replaced), the module is called and the activation and LRN follow as PyTorch
ops, so the hook sees the conv's own output. A batchnorm is folded into the conv's weight and bias (computed anew at
each call, the parameters untouched) only where it would normalise with its running statistics (eval) and runs
nothing but BatchNorm2d.forward; in training it normalises with the batch's statistics and updates its running
ones, so the conv and the batchnorm run as modules. Generated files import the kernel, and define `_lrn`,
`_plain_module`, `_activate` and `_folded` from torch_ops.py above this helper.
"""

from __future__ import annotations

import torch
from torch import nn

from alexnet_dsl.backend.runtime.torch_ops import activate as _activate
from alexnet_dsl.backend.runtime.torch_ops import folded as _folded
from alexnet_dsl.backend.runtime.torch_ops import lrn as _lrn
from alexnet_dsl.backend.runtime.torch_ops import plain_module as _plain_module
from alexnet_dsl.kernels import LRNParams, fused_conv2d


# emit: fused_conv
def _fused_conv(
    x: torch.Tensor,
    conv: nn.Conv2d,
    act: str | tuple | None,
    lrn: tuple | None = None,
    bn: nn.Module | None = None,
) -> torch.Tensor:
    """conv (-> bn, folded) (-> activation) (-> LRN) as one Triton kernel; PyTorch ops where a module has hooks or
    the batchnorm uses batch statistics."""
    folded = _folded(conv, bn) if _plain_module(conv, nn.Conv2d) else None
    if folded is not None:
        return fused_conv2d(
            x,
            *folded,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            activation=act,
            lrn=None if lrn is None else LRNParams(*lrn),
        )
    x = conv(x) if bn is None else bn(conv(x))
    x = _activate(x, act)
    return x if lrn is None else _lrn(x, *lrn)


# emit: end
