"""The fused conv (-> batchnorm) (-> activation) (-> LRN) of the auto backend (the Triton kernel on CUDA tensors,
PyTorch ops elsewhere), written as generated modules contain it (`backend/prelude.py` copies the region below).

The fused kernel stands in for calling the conv module only while that call would run nn.Conv2d.forward alone:
with a hook on the conv (or the conv replaced), the module is called and the activation and LRN follow as PyTorch
ops, so the hook sees the conv's own output. A batchnorm is folded into the conv's weight and bias (computed anew at
each call, the parameters untouched) only where it would normalise with its running statistics (eval) and runs
nothing but BatchNorm2d.forward: then one conv runs instead of conv + batchnorm, on the CPU too where the fold
writes fewer values than the batchnorm's pass would (`_fold_pays`). In training it normalises with the batch's
statistics and updates its running ones, so the conv and the batchnorm run as modules.
Generated files import the kernel, and define `_lrn`, `_plain_module`, `_activate` and `_folded` from torch_ops.py
above this helper.
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
def _fold_pays(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """Whether folding saves memory traffic on the CPU: it rewrites C_in / groups x KH x KW weights per output
    channel to save the batchnorm's pass over N x OH x OW values per channel (AlexNet-size and larger images, the
    first layers of ResNets; not their last layers at batch 1, where the weights are the larger)."""
    pixels = x.shape[0] * (x.shape[2] // conv.stride[0]) * (x.shape[3] // conv.stride[1])
    return pixels >= conv.weight[0].numel()


def _fused_conv(
    x: torch.Tensor,
    conv: nn.Conv2d,
    act: str | tuple | None,
    lrn: tuple | None = None,
    bn: nn.Module | None = None,
) -> torch.Tensor:
    """conv (-> bn, folded) (-> activation) (-> LRN): one Triton kernel on CUDA tensors; elsewhere PyTorch ops, the
    batchnorm folded into one conv where it can be (as for the kernel: no hooks, running statistics) and pays."""
    plain = _plain_module(conv, nn.Conv2d)
    folded = _folded(conv, bn) if plain and (x.is_cuda or bn is not None and _fold_pays(x, conv)) else None
    if folded is not None and x.is_cuda:
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
    if folded is not None:
        x = conv._conv_forward(x, *folded)  # nn.Conv2d.forward with the folded weight and bias
    elif bn is not None:
        x = bn(conv(x))
    else:
        x = conv(x)
    x = _activate(x, act)
    return x if lrn is None else _lrn(x, *lrn)


# emit: end
