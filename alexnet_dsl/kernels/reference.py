"""Pure-torch side of the fused conv kernels: parameters, argument checks and the oracle (its error bounds
are in `bounds.py`), the epilogue's activations and their derivatives included.

Nothing here imports triton, so the package imports (and its references run) without it.

LRN follows the AlexNet paper (section 3.3):

    b_c = a_c / (k + alpha * S_c) ** beta,   S_c = sum of a_j**2 for j in [c - size//2, c + (size-1)//2] ∩ [0, C-1]

alpha is *not* divided by ``size``. PyTorch's ``F.local_response_norm`` uses the same window but averages a zero-padded
window of exactly ``size`` channels, so passing ``alpha * size`` gives the paper's function for every size, borders
included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
REFERENCE_DTYPES = (*SUPPORTED_DTYPES, torch.float64)  # float64 for gradcheck and high-precision oracles

IntPair = tuple[int, int]


@dataclass(frozen=True)
class LRNParams:
    """Local response normalisation across channels, with the paper's alpha (not divided by ``size``).

    >>> LRNParams(size=5, alpha=1e-4, beta=0.75, k=2.0).window(0)
    (-2, 2)
    >>> LRNParams(size=4, alpha=1.0, beta=0.75, k=1.0).window(10)  # even sizes lean towards lower channels
    (8, 11)
    """

    size: int
    alpha: float
    beta: float
    k: float

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"LRN `size` must be a positive int, got {self.size!r}")
        for name in ("alpha", "beta", "k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"LRN `{name}` must be a number, got {type(value).__name__}")

    def window(self, c: int) -> IntPair:
        """Inclusive channel range summed for output channel ``c`` (before clipping to [0, C-1])."""
        return c - self.size // 2, c + (self.size - 1) // 2


# The epilogue's activations, as PyTorch computes them (`param`: leaky_relu's slope, elu's alpha; ignored by the
# others). The names are the language's (frontend/vocabulary.py); GELU is the exact (erf) one.
ACTIVATIONS: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "identity": lambda y, p: y,
    "relu": lambda y, p: F.relu(y),
    "relu6": lambda y, p: F.relu6(y),
    "leaky_relu": lambda y, p: F.leaky_relu(y, p),
    "elu": lambda y, p: F.elu(y, p),
    "gelu": lambda y, p: F.gelu(y),
    "silu": lambda y, p: F.silu(y),
    "mish": lambda y, p: F.mish(y),
    "hardswish": lambda y, p: F.hardswish(y),
    "hardsigmoid": lambda y, p: F.hardsigmoid(y),
    "tanh": lambda y, p: torch.tanh(y),
    "sigmoid": lambda y, p: torch.sigmoid(y),
}
_DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}  # PyTorch's defaults


@dataclass(frozen=True)
class Activation:
    """A pointwise activation of the kernel's epilogue: a kind of `ACTIVATIONS` and, for `leaky_relu` (slope) and
    `elu` (alpha), its argument.

    >>> Activation.of("leaky_relu")
    Activation(kind='leaky_relu', param=0.01)
    >>> Activation.of(None) == Activation("identity")
    True
    """

    kind: str = "relu"
    param: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation `{self.kind}`; the kernel has {', '.join(ACTIVATIONS)}")
        if isinstance(self.param, bool) or not isinstance(self.param, (int, float)):
            raise TypeError(
                f"the argument of `{self.kind}` must be a number, got {type(self.param).__name__}"
            )
        if self.kind not in _DEFAULT_PARAM and self.param != 0.0:
            raise ValueError(f"`{self.kind}` takes no argument, got {self.param!r}")

    @staticmethod
    def of(value: Activation | str | tuple[str, float] | None) -> Activation:
        """An activation from its kind (`"silu"`, the default argument), `(kind, argument)`, or None (identity)."""
        if isinstance(value, Activation):
            return value
        if value is None:
            return Activation("identity")
        if isinstance(value, str):
            return Activation(value, _DEFAULT_PARAM.get(value, 0.0))
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            return Activation(value[0], value[1])
        raise TypeError(f"`activation` must be a kind, (kind, argument) or None, got {value!r}")

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.kind](y, self.param)

    def backward(self, z: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """The gradient with respect to the pre-activation `z`, given the gradient `grad` of the activation's output,
        in plain tensor ops (PyTorch's conventions at the kinks: relu'(0) = 0, relu6'(6) = 0, elu'(0) = alpha,
        hardswish'(-3) = 0 and hardswish'(3) = 1, hardsigmoid'(+-3) = 0)."""
        kind, p = self.kind, self.param
        if kind == "identity":
            return grad
        if kind == "relu":
            return grad.masked_fill(z <= 0, 0)
        if kind == "relu6":
            return grad.masked_fill((z <= 0) | (z >= 6), 0)
        if kind == "leaky_relu":
            return torch.where(z > 0, grad, grad * p)
        if kind == "elu":
            return torch.where(z > 0, grad, grad * p * torch.exp(z))
        if kind == "gelu":  # Phi(z) + z phi(z)
            cdf = 0.5 * (1 + torch.erf(z * math.sqrt(0.5)))
            return grad * (cdf + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
        if kind in ("silu", "sigmoid", "mish"):
            s = torch.sigmoid(z)
            if kind == "silu":
                return grad * s * (1 + z * (1 - s))
            if kind == "sigmoid":
                return grad * s * (1 - s)
            t = torch.tanh(F.softplus(z))  # mish = z tanh(softplus(z))
            return grad * (t + z * s * (1 - t * t))
        if kind == "hardswish":
            return torch.where(z <= -3, 0.0, torch.where(z < 3, grad * (z / 3 + 0.5), grad))
        if kind == "hardsigmoid":
            return torch.where((z > -3) & (z < 3), grad / 6, 0.0)
        assert kind == "tanh", kind
        t = torch.tanh(z)
        return grad * (1 - t * t)


@dataclass(frozen=True)
class ConvGeometry:
    """A checked conv2d problem: every size the kernel and its launcher need, all plain ints."""

    batch: int
    in_c: int
    in_h: int
    in_w: int
    out_c: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride: IntPair
    padding: IntPair
    dilation: IntPair
    groups: int

    @property
    def group_in_c(self) -> int:
        return self.in_c // self.groups

    @property
    def group_out_c(self) -> int:
        return self.out_c // self.groups

    @property
    def gemm_m(self) -> int:
        """Rows of the implicit GEMM: one per output pixel."""
        return self.batch * self.out_h * self.out_w

    @property
    def gemm_k(self) -> int:
        """Reduction length of one group's GEMM: (input channels of a group) x KH x KW."""
        return self.group_in_c * self.kernel_h * self.kernel_w

    def flops(self) -> int:
        """Multiply-adds of the convolution counted as 2 FLOPs (epilogue not counted)."""
        return 2 * self.gemm_m * self.gemm_k * self.out_c


def as_pair(value: int | tuple[int, ...] | list[int], name: str, *, minimum: int) -> IntPair:
    """Normalise an int or a pair of ints to a pair, checking it is at least ``minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise TypeError(f"`{name}` must be an int or a pair of ints, got {value!r}")
    for item in pair:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(f"`{name}` must be an int or a pair of ints, got {value!r}")
        if item < minimum:
            raise ValueError(f"`{name}` must be >= {minimum}, got {value!r}")
    return pair


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """out = (in + 2*pad - dilation*(k-1) - 1) // stride + 1"""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _check_tensors(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dtypes: tuple[torch.dtype, ...]
) -> None:
    """Tensors of a supported dtype, 4-D where they must be, of one dtype and on one device."""
    for name, t in (("x", x), ("weight", weight), ("bias", bias)):
        if t is None and name == "bias":
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"`{name}` must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in dtypes:
            names = ", ".join(str(d).removeprefix("torch.") for d in dtypes)
            raise TypeError(f"`{name}` has dtype {t.dtype}; supported: {names}")
    if x.dim() != 4:
        raise ValueError(f"`x` must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    if weight.dim() != 4:
        raise ValueError(
            f"`weight` must be 4-D (C_out, C_in/groups, KH, KW), got shape {tuple(weight.shape)}"
        )
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        got = ", ".join(
            f"{n}={t.dtype}" for n, t in (("x", x), ("weight", weight), ("bias", bias)) if t is not None
        )
        raise TypeError(f"`x`, `weight` and `bias` must share one dtype, got {got}")
    if weight.device != x.device or (bias is not None and bias.device != x.device):
        got = ", ".join(
            f"{n} on {t.device}" for n, t in (("x", x), ("weight", weight), ("bias", bias)) if t is not None
        )
        raise ValueError(f"`x`, `weight` and `bias` must be on one device, got {got}")


def check_conv_args(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int | IntPair,
    padding: int | IntPair,
    dilation: int | IntPair,
    groups: int,
    lrn: LRNParams | None,
    dtypes: tuple[torch.dtype, ...] = SUPPORTED_DTYPES,
) -> ConvGeometry:
    """Validate a fused conv call and return its geometry; bad arguments raise TypeError/ValueError."""
    _check_tensors(x, weight, bias, dtypes)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"`groups` must be a positive int, got {groups!r}")
    if lrn is not None and not isinstance(lrn, LRNParams):
        raise TypeError(f"`lrn` must be an LRNParams or None, got {type(lrn).__name__}")
    stride_p = as_pair(stride, "stride", minimum=1)
    padding_p = as_pair(padding, "padding", minimum=0)
    dilation_p = as_pair(dilation, "dilation", minimum=1)

    batch, in_c, in_h, in_w = x.shape
    out_c, w_in_c, kernel_h, kernel_w = weight.shape
    if in_c % groups or out_c % groups:
        raise ValueError(
            f"`groups`={groups} must divide the input channels ({in_c}) and the output channels ({out_c})"
        )
    if w_in_c * groups != in_c:
        raise ValueError(
            f"`x` has {in_c} channels, but `weight` expects {w_in_c} per group x {groups} groups = {w_in_c * groups}"
        )
    if bias is not None and tuple(bias.shape) != (out_c,):
        raise ValueError(f"`bias` must have shape ({out_c},) to match `weight`, got {tuple(bias.shape)}")
    out_h = conv_output_size(in_h, kernel_h, stride_p[0], padding_p[0], dilation_p[0])
    out_w = conv_output_size(in_w, kernel_w, stride_p[1], padding_p[1], dilation_p[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"input {in_h}x{in_w} is too small for a {kernel_h}x{kernel_w} kernel with padding {padding_p} and "
            f"dilation {dilation_p}: the output would be {out_h}x{out_w}"
        )
    if min(batch, out_c, kernel_h, kernel_w, w_in_c) < 1:
        raise ValueError(f"empty tensors are not supported: x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    return ConvGeometry(
        batch,
        in_c,
        in_h,
        in_w,
        out_c,
        out_h,
        out_w,
        kernel_h,
        kernel_w,
        stride_p,
        padding_p,
        dilation_p,
        groups,
    )


@contextmanager
def cudnn_tf32(allow: bool | None) -> Iterator[None]:
    """Set ``torch.backends.cudnn.allow_tf32`` for a block (None leaves it alone)."""
    if allow is None:
        yield
        return
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = saved


def lrn_reference(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """The paper's LRN over dim 1, as PyTorch ops (alpha not divided by ``size``)."""
    return F.local_response_norm(x, size, alpha=alpha * size, beta=beta, k=k)


def fused_conv2d_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    stride: int | IntPair = (1, 1),
    padding: int | IntPair = (0, 0),
    dilation: int | IntPair = (1, 1),
    groups: int = 1,
    activation: Activation | str | tuple[str, float] | None = "relu",
    lrn: LRNParams | None = None,
    allow_tf32: bool | None = None,
) -> torch.Tensor:
    """conv2d -> activation (ReLU by default) -> LRN in eager PyTorch: the oracle for :func:`fused_conv2d`.

    ``allow_tf32`` sets cuDNN's TF32 switch for this call (None keeps ``torch.backends.cudnn.allow_tf32``); it only
    matters for float32 CUDA tensors.
    """
    check_conv_args(x, weight, bias, stride, padding, dilation, groups, lrn, REFERENCE_DTYPES)
    act = Activation.of(activation)
    conv_args = dict(
        stride=as_pair(stride, "stride", minimum=1),
        padding=as_pair(padding, "padding", minimum=0),
        dilation=as_pair(dilation, "dilation", minimum=1),
        groups=groups,
    )
    with cudnn_tf32(allow_tf32):
        y = F.conv2d(x, weight, bias, **conv_args)
    y = act(y)
    if lrn is not None:
        y = lrn_reference(y, lrn.size, lrn.alpha, lrn.beta, lrn.k)
    return y


def window_sum(t: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """out[:, c] = sum of t[:, j] for j in [c - before, c + after], clipped to the channels that exist; [N, C, ...]."""
    padded = F.pad(t, [0, 0] * (t.dim() - 2) + [before, after])
    return padded.unfold(1, before + after + 1, 1).sum(-1)


def fused_conv2d_backward_reference(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    geometry: ConvGeometry,
    activation: Activation,
    lrn: LRNParams | None,
    allow_tf32: bool | None,
    needs: tuple[bool, bool, bool],
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Gradients of :func:`fused_conv2d_reference` for x, weight and bias (None where not needed), written out in
    plain tensor ops (no autograd inside, so torch.compile can trace it): the conv output is recomputed, then

        LRN:  y_c = a_c d_c^-beta,  d_c = k + alpha sum_{j in window(c)} a_j^2
              da_j = g_j d_j^-beta - 2 alpha beta a_j sum_{c : j in window(c)} g_c a_c d_c^(-beta-1)
        activation: dz = f'(z) da (`Activation.backward`; ReLU: da where z > 0, PyTorch's convention at 0)
        conv: aten.convolution_backward.
    """
    conv_args = dict(
        stride=geometry.stride, padding=geometry.padding, dilation=geometry.dilation, groups=geometry.groups
    )
    with cudnn_tf32(allow_tf32):
        z = F.conv2d(x, weight, bias, **conv_args)
    a = activation(z)
    grad = grad_out
    if lrn is not None:
        before, after = lrn.size // 2, (lrn.size - 1) // 2
        d = lrn.k + lrn.alpha * window_sum(a * a, before, after)
        scaled = grad * a * d.pow(-lrn.beta - 1)
        grad = grad * d.pow(-lrn.beta) - (2 * lrn.alpha * lrn.beta) * a * window_sum(scaled, after, before)
    grad = activation.backward(z, grad)
    with cudnn_tf32(allow_tf32):
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad,
            x,
            weight,
            None if bias is None else [geometry.out_c],
            list(geometry.stride),
            list(geometry.padding),
            list(geometry.dilation),
            False,
            [0, 0],
            geometry.groups,
            [needs[0], needs[1], bias is not None and needs[2]],
        )
    return gx, gw, gb if bias is not None and needs[2] else None
