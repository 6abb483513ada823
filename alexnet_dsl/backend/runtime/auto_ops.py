"""The fused conv -> ReLU (-> LRN) of the auto backend (the Triton kernel on CUDA tensors, PyTorch ops
elsewhere), written as generated modules contain it (`backend/prelude.py` copies the region below).

The fused kernel stands in for calling the conv module only while that call would run nn.Conv2d.forward alone:
with a hook on the conv (or the conv replaced), the module is called and ReLU and LRN follow as PyTorch ops, so the
hook sees the conv's own output. Generated files import the kernel, and define `_lrn` and `_plain_module` from
torch_ops.py above this helper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from alexnet_dsl.backend.runtime.torch_ops import lrn as _lrn
from alexnet_dsl.backend.runtime.torch_ops import plain_module as _plain_module
from alexnet_dsl.kernels import LRNParams, fused_conv2d


# emit: conv_relu_lrn
def _conv_relu_lrn(x: torch.Tensor, conv: nn.Conv2d, lrn: tuple | None = None) -> torch.Tensor:
    """conv -> ReLU (-> LRN): one Triton kernel on CUDA tensors, PyTorch ops elsewhere or when the conv has hooks."""
    if x.is_cuda and _plain_module(conv, nn.Conv2d):
        return fused_conv2d(
            x,
            conv.weight,
            conv.bias,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            relu=True,
            lrn=None if lrn is None else LRNParams(*lrn),
        )
    x = F.relu(conv(x))
    return x if lrn is None else _lrn(x, *lrn)


# emit: end
