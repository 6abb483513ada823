"""Fast pure-torch ops for the torch backend (draft; docstring with measurements comes later)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["fast_layout_", "linear", "lrn", "to_fast_layout"]


def _needs_grad(*tensors: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _inv_pow(t: Tensor, beta: float) -> Tensor:
    """``t ** -beta``, out of place and differentiable; cheap special cases for the common betas."""
    if beta == 0.75:
        r = torch.rsqrt(t)
        return r * torch.sqrt(r)
    if beta == 0.5:
        return torch.rsqrt(t)
    if beta == 1.0:
        return torch.reciprocal(t)
    return torch.pow(t, -beta)


def _inv_pow_(t: Tensor, beta: float, buf: Tensor) -> Tensor:
    """``t ** -beta`` written into ``buf``; clobbers ``t``. No autograd."""
    if beta == 0.75:
        torch.rsqrt(t, out=buf)
        torch.sqrt(buf, out=t)
        return buf.mul_(t)
    if beta == 0.5:
        return torch.rsqrt(t, out=buf)
    if beta == 1.0:
        return torch.reciprocal(t, out=buf)
    return torch.pow(t, -beta, out=buf)


def lrn(x: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
    """Local response normalisation across channels (dim 1), the paper's alpha.

    b_c = a_c / (k + alpha * S_c) ** beta,  S_c = sum_{j = max(0, c - size//2)}^{min(C-1, c + (size-1)//2)} a_j ** 2
    """
    if size < 1:
        raise ValueError(f"lrn: size must be >= 1, got {size}")
    if x.dim() < 2:
        raise ValueError(f"lrn: expected at least 2 dims [N, C, ...], got shape {tuple(x.shape)}")
    C = x.shape[1]
    lo = min(size // 2, C - 1)  # channels summed below c
    hi = min((size - 1) // 2, C - 1)  # and above
    if _needs_grad(x) or torch.compiler.is_compiling():
        sq = x * x
        pad = [0, 0] * (x.dim() - 2) + [lo, hi]
        padded = F.pad(sq, pad)
        s = padded.narrow(1, 0, C)
        for i in range(1, lo + hi + 1):
            s = s + padded.narrow(1, i, C)
        return x * _inv_pow(k + alpha * s, beta)
    sq = torch.mul(x, x)
    s = torch.add(torch.full((), k, dtype=x.dtype, device=x.device), sq, alpha=alpha)
    for d in range(1, lo + 1):
        s.narrow(1, d, C - d).add_(sq.narrow(1, 0, C - d), alpha=alpha)
    for d in range(1, hi + 1):
        s.narrow(1, 0, C - d).add_(sq.narrow(1, d, C - d), alpha=alpha)
    return _inv_pow_(s, beta, buf=sq).mul_(x)


_linear_pointwise = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, relu: bool = False) -> Tensor:
    """``y = x @ weight.T + bias`` (then ``max(y, 0)`` if ``relu``)."""
    if (
        _linear_pointwise is not None
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not _needs_grad(x, weight, bias)
        and not torch.compiler.is_compiling()
    ):
        return _linear_pointwise(x, weight, bias, "relu" if relu else "none", [], "")
    y = F.linear(x, weight, bias)
    return F.relu(y, inplace=True) if relu else y


def to_fast_layout(x: Tensor) -> Tensor:
    """4-D tensors in ``torch.channels_last`` (a no-op when already there); others unchanged."""
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def fast_layout_(module: nn.Module) -> nn.Module:
    """Convert a module's 4-D parameters and buffers to ``channels_last`` in place; returns it."""
    return module.to(memory_format=torch.channels_last)
