"""Triton kernels for fused conv2d + bias + activation (+ LRN), each beside its pure-torch reference.

Importing this package does not import triton (it is imported when a kernel first runs), so it works where triton is
not installed; :func:`triton_available` says whether the kernels can run here.

- :func:`fused_conv2d` - the kernel, differentiable (CUDA tensors; CPU tensors with TRITON_INTERPRET=1).
- :func:`fused_conv2d_reference`, :func:`lrn_reference` - the same functions in eager PyTorch (the oracle).
- :class:`LRNParams` - LRN with the paper's alpha (not divided by the window size).
- :class:`Activation` - the epilogue's pointwise activation (ReLU, ReLU6, leaky ReLU, ELU, GELU, SiLU, Mish,
  hardswish, hardsigmoid, tanh, sigmoid, identity).
"""

from __future__ import annotations

from alexnet_dsl.extras import needs

with needs("alexnet_dsl.kernels"):  # torch: one line naming the extra, not a bare ModuleNotFoundError
    from alexnet_dsl.kernels.fused import fused_conv2d, triton_available
    from alexnet_dsl.kernels.reference import Activation, LRNParams, fused_conv2d_reference, lrn_reference

__all__ = [
    "Activation",
    "LRNParams",
    "fused_conv2d",
    "fused_conv2d_reference",
    "lrn_reference",
    "triton_available",
]
