"""A-priori bounds on the rounding error of the fused conv kernels and of their references.

A computed result is compared with the same function of the same inputs in float64, element by element, within an
a-priori bound on the rounding error of the computation (the tuner's gate, the benchmark's check and the tests).
Notation (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 2-3): u is the unit roundoff of a
format, gamma(n) = n u / (1 - n u). An inner product of n terms computed in floating point, in any order, has
|fl(x.y) - x.y| <= gamma(n) |x|.|y| (Higham 3.5). Errors below are first-order: the neglected terms are products of
two relative errors (< 1e-6 here), a millionth of what they multiply.

Nothing here imports triton.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from alexnet_dsl.kernels.reference import Activation, IntPair, LRNParams, as_pair, window_sum

# unit roundoff (round to nearest) of each format: half the distance from 1 to the next number
UNIT_ROUNDOFF = {
    torch.float64: 2.0**-53,
    torch.float32: 2.0**-24,
    torch.float16: 2.0**-11,
    torch.bfloat16: 2.0**-8,
}
U32 = UNIT_ROUNDOFF[torch.float32]
# exp2/log2 in float32: numpy's SIMD implementations (what the Triton interpreter runs) are tested by NumPy to
# within 4 ULP (measured here: 2.3 u), CUDA's exp2f/log2f are specified within 2 ULP and the ex2/lg2.approx
# instructions Triton emits within 2^-22 relative: 4 ULP = 8 u covers all of them.
TRANSCENDENTAL = 8 * U32
# fp32 inputs of a TF32 tensor-core product keep 10 mantissa bits, rounded or truncated (the hardware drops the low
# 13 bits of an unconverted operand): relative error < 2^-10 each.
TF32_INPUT_ERROR = 2.0**-10
# Tensor cores multiply exactly and add a block of products and the accumulator by aligning them to the largest
# exponent E and truncating (Fasi, Higham, Mikaitis, Pranesh, "Numerical behavior of NVIDIA tensor cores", PeerJ CS
# 2021): each of the n_b + 1 values loses < 2^(E - 23) <= 2 u max|value|, the normalised sum < 2 u of itself. Per
# block that is < (n_b + 2) 2 u of the sum of the magnitudes, i.e. per added term (1 + 2 / n_b) 2 u <= 4 u for the
# block sizes of 2 and more that they report: the recursive-summation bound holds with u = 4 u32.
TENSOR_CORE_U = 4 * U32
# The kernel's LRN squares as 2 bf16 parts (TF32 and 16-bit modes): the first keeps the top 8 bits (exact), the
# remainder (< 2^-7 of the square) is rounded to bf16 on a GPU and truncated by the interpreter's fp32 -> bf16 cast:
# < 2^-7 of it, 2^-14 of the square. 3 parts (fp32 without TF32) are exact.
TWO_PART_SQUARE_ERROR = 2.0**-14
# Storing the fp32 result: the GPU rounds to nearest (u of the format), the interpreter's fp32 -> bf16 cast truncates
# (< 1 ulp, 2^-7) and its fp16 cast rounds (2^-11). The larger of the two, so one bound serves both.
STORE_ERROR = {torch.float32: 0.0, torch.float16: 2.0**-11, torch.bfloat16: 2.0**-7}
# A float32 division: `div.rn` rounds correctly (u), `div.full` (what a GPU may run for `/`) is within 2 ULP = 4 u;
# numpy's (the interpreter) rounds correctly.
DIVISION = 4 * U32
# An absolute part, where the relative ones fail: a result below float16's smallest normal number (6.1e-5) lands on
# its subnormal grid, spaced 2^-24 (rounded: half that, truncated: less than it); a GPU may flush an fp32 or bf16
# result below 2^-126 to zero.
STORE_FLOOR = {torch.float32: 2.0**-126, torch.float16: 2.0**-24, torch.bfloat16: 2.0**-126}


def gamma(n: int, u: float = U32) -> float:
    """Higham's gamma_n: the relative error bound of n successive roundings."""
    assert n * u < 1, (n, u)
    return n * u / (1 - n * u)


def conv_bound(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    *,
    u: float = U32,
    input_error: float = 0.0,
    **conv: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(exact conv2d(x, w) + b in float64, a bound on the error of any evaluation accumulating with unit roundoff
    `u` (fp32 by default)), per element.

    Each output is an inner product of K = (in channels per group) x KH x KW products plus the bias, so (Higham 3.5)
    |error| <= gamma(K + 1) (sum |w||x| + |b|), for any summation order, blocking or FMA use. Products of 16-bit
    inputs are exact in fp32, so 16-bit inputs accumulated in fp32 have the same bound with u = u32. With
    `input_error` e, x and w are each rounded by a relative e before they are multiplied (TF32): each product is
    off by (1 + e)^2 - 1 = 2e + e^2 of |w||x| more, and that error is carried through the sum.
    """
    x64, w64 = x.double(), w.double()
    b64 = None if b is None else b.double()
    exact = F.conv2d(x64, w64, b64, **conv)
    products = F.conv2d(x64.abs(), w64.abs(), None, **conv)
    magnitude = products if b64 is None else products + b64.abs().view(1, -1, 1, 1)
    terms = w.shape[1] * w.shape[2] * w.shape[3]
    g = gamma(terms + 1, u)
    bound = g * magnitude
    if input_error:
        bound = bound + (2 * input_error + input_error**2) * (1 + g) * products
    return exact, bound


# sup |f'| of each activation (its Lipschitz constant; leaky_relu and elu: max(1, |argument|)), rounded up:
# GELU 1.1289 at x = sqrt(2), SiLU 1.0998 at x = 2.40, Mish 1.0885 at x = 1.49, hardswish 3/2 at x = 3.
LIPSCHITZ = {
    "identity": 1.0,
    "relu": 1.0,
    "relu6": 1.0,
    "gelu": 1.13,
    "silu": 1.1,
    "mish": 1.09,
    "hardswish": 1.5,
    "hardsigmoid": 1 / 6,
    "tanh": 1.0,
    "sigmoid": 0.25,
}


def activation_bound(
    a: torch.Tensor, err: torch.Tensor | None, activation: Activation, *, u: float = U32
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the activation of the exact `a` in float64, a bound on the error of the kernel's activation of a computed
    `a`; `err` None: `a` is exact), elementwise.

    The input error passes through scaled by sup |f'| (`LIPSCHITZ`). The kernel's own rounding, evaluated at the
    magnitudes A = |a| + err and Y = |f(a)| + L err, with eps_f = TRANSCENDENTAL for exp2 and erf and each
    constant and operation rounded once (u; a division `DIVISION`); exp(x) is exp2(x log2 e), off by
    eta(x) = eps_f + 2 u |x| relative (the argument's two roundings, magnified by |x| ln 2 log2 e):

    * relu, relu6, identity: exact. leaky_relu: the argument's rounding and the product, 2 u Y.
    * elu, alpha (e^x - 1) for x <= 0: |alpha| (eta(A) + u) + 2 u Y.
    * gelu, x/2 (1 + erf(x / sqrt 2)): the argument's rounding moves erf by < u, erf's own eps_f, the sum u:
      A/2 (eps_f + 3 u) + u Y (near erf = -1 this is absolute: the cancellation of 1 + erf).
    * sigmoid 1 / (1 + e^-x), silu x / (1 + e^-x): e's error reaches the result damped by 1 - s <= 1:
      (eta(A) + u + DIVISION) Y.
    * mish, x n / (n + 2) with n = e^x (e^x + 2) (= x tanh(softplus(x)), without cancellation), x beyond 20: x:
      (2 eta(min(A, 20)) + 5 u + DIVISION) Y.
    * hardsigmoid, clamp(x + 3, 0, 6) / 6: u (A + 3) / 6 + DIVISION Y; hardswish, x times it:
      A u (A + 3) / 6 + (u + DIVISION) Y.
    * tanh, (1 - e) / (1 + e) with e = e^(-2|x|): |dt/de| <= 2 / (1 + e)^2, so e's error moves t by at most
      eta(2A) / 2 (absolute); then (2 u + DIVISION) Y.

    First order, as everywhere here; results that underflow are covered by the store's floor (`STORE_FLOOR`).
    """
    a = a.double()
    err = torch.zeros_like(a) if err is None else err
    kind, p = activation.kind, abs(float(activation.param))
    exact = activation(a)
    lipschitz = max(1.0, p) if kind in ("leaky_relu", "elu") else LIPSCHITZ[kind]
    eps_f = TRANSCENDENTAL * u / U32
    div = DIVISION * u / U32
    big_a = a.abs() + err
    big_y = exact.abs() + lipschitz * err

    def eta(x: torch.Tensor) -> torch.Tensor:
        return eps_f + 2 * u * x

    if kind in ("identity", "relu", "relu6"):
        rounding = torch.zeros_like(a)
    elif kind == "leaky_relu":
        rounding = 2 * u * big_y
    elif kind == "elu":
        rounding = p * (eta(big_a) + u) + 2 * u * big_y
    elif kind == "gelu":
        rounding = big_a / 2 * (eps_f + 3 * u) + u * big_y
    elif kind in ("sigmoid", "silu"):
        rounding = (eta(big_a) + u + div) * big_y
    elif kind == "mish":
        rounding = (2 * eta(big_a.clamp(max=20)) + 5 * u + div) * big_y
    elif kind == "hardsigmoid":
        rounding = u * (big_a + 3) / 6 + div * big_y
    elif kind == "hardswish":
        rounding = big_a * u * (big_a + 3) / 6 + (u + div) * big_y
    else:
        assert kind == "tanh", kind
        rounding = eta(2 * big_a) / 2 + (2 * u + div) * big_y
    return exact, lipschitz * err + rounding


def lrn_bound(
    a: torch.Tensor,
    err: torch.Tensor | None,
    size: int,
    alpha: float,
    beta: float,
    k: float,
    *,
    square_error: float = 0.0,
    u: float = U32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the paper's LRN of the exact `a` in float64, a bound on the error of an LRN of a computed `a` evaluated
    with unit roundoff `u` (fp32 by default); `err` None: `a` is exact).

    `a` is exact (float64) and the LRN's input is known only to within `err`, elementwise. LRN is
    y_c = a_c d_c^-beta with d_c = k + alpha S_c, S_c = sum of a_j^2 over the window W(c); k > 0.

    Input error (mean value theorem): dy_c/da_j = delta_cj d_c^-beta - 2 alpha beta a_c a_j d_c^(-beta-1), taken at
    some point within `err` of `a`, where |a_j| <= A_j = |a_j| + err_j and d_c >= D_c = k + alpha sum (|a_j| -
    err_j)_+^2, so |dy_c| <= D_c^-beta err_c + 2 alpha beta A_c D_c^(-beta-1) sum_W(c) A_j err_j.

    Its own rounding, relative to |y_c| <= A_c D_c^-beta: the squares (u, plus `square_error` where a kernel
    rounds the parts it splits them into or sums them less accurately) and their sum, where each square may enter
    as up to 3 exact bf16 parts (the fused kernel's split): gamma(3 size + 1); alpha S and + k, 2u; so d to
    gamma(3 size + 3) + square_error, and d^-beta to beta times that. The kernel computes d^-beta as
    exp2(-beta log2 d): log2, the product and exp2 add ln 2 beta (|log2 d| (eps_f + u) + eps_f) + eps_f, with
    eps_f = TRANSCENDENTAL (8 u in other formats); and the final product a d^-beta one more u. An evaluation
    by pow or rsqrt instead of exp2/log2 has a smaller error than this.
    """
    a = a.double()
    err = torch.zeros_like(a) if err is None else err
    eps_f = TRANSCENDENTAL * u / U32
    before, after = size // 2, (size - 1) // 2
    exact_d = k + alpha * window_sum(a * a, before, after)
    exact = a * exact_d.pow(-beta)
    upper = a.abs() + err
    lower = (a.abs() - err).clamp(min=0)
    d_low = k + alpha * window_sum(lower * lower, before, after)
    propagated = d_low.pow(-beta) * err + 2 * alpha * beta * upper * d_low.pow(-beta - 1) * window_sum(
        upper * err, before, after
    )
    d_high = k + alpha * window_sum(upper * upper, before, after)
    rel_d = gamma(3 * size + 3, u) + square_error
    rel_pow = beta * rel_d + math.log(2) * beta * (d_high.log2().abs() * (eps_f + u) + eps_f)
    rounding = (rel_pow + eps_f + u) * upper * d_low.pow(-beta)
    return exact, propagated + rounding


def fused_conv_bound(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    *,
    activation: Activation | str | tuple[str, float] | None = "relu",
    lrn: LRNParams | None,
    out_dtype: torch.dtype = torch.float32,
    square_error: float = 0.0,
    store_error: float | None = None,
    **conv: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(conv + bias, activation, LRN of the exact inputs in float64, a bound on an fp32-accumulated kernel's error).

    `conv` goes to `conv_bound` (the conv's arguments, and its `u` and `input_error`). The activation as in
    `activation_bound` (ReLU is 1-Lipschitz and exact: the conv's bound passes through it unchanged); LRN as in
    `lrn_bound`; then the store converts to
    `out_dtype` with a relative error `store_error` (default u_out, rounding to nearest; nothing more for float32:
    LRN's last product is that rounding).
    """
    y, err = conv_bound(x, w, b, **conv)
    y, err = activation_bound(y, err, Activation.of(activation))
    if lrn is not None:
        y, err = lrn_bound(y, err, lrn.size, lrn.alpha, lrn.beta, lrn.k, square_error=square_error)
    if out_dtype != torch.float32:
        err = err + (UNIT_ROUNDOFF[out_dtype] if store_error is None else store_error) * (y.abs() + err)
    return y, err


def fused_conv2d_error_bound(
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
    tf32: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(:func:`fused_conv2d_reference` of these inputs in float64, a bound on the error of the Triton kernel's
    result in its precision mode), per element, on a GPU or in the interpreter: the correctness gate's yardstick.

    The kernel accumulates in fp32 in every mode. fp32 without TF32: the conv on CUDA cores (IEEE fp32, u32), the
    LRN's window sum of 3 exact bf16 parts on tensor cores; the activation in fp32 (`activation_bound`). TF32: each conv input rounded to TF32 first
    (`TF32_INPUT_ERROR`). 16-bit: products exact in fp32. In the TF32 and 16-bit modes the conv, and in all modes
    the window sum, accumulate on tensor cores (`TENSOR_CORE_U`; the sum's extra error over u32 enters as an error
    of each square); 2-part squares add `TWO_PART_SQUARE_ERROR`; the store to 16 bits adds `STORE_ERROR`, and
    every element `STORE_FLOOR` (subnormal or flushed results).
    In the interpreter each of these is exact fp32 arithmetic or smaller, so the bound holds there too.
    """
    fp32_ieee = x.dtype == torch.float32 and not tf32
    conv_args = dict(
        stride=as_pair(stride, "stride", minimum=1),
        padding=as_pair(padding, "padding", minimum=0),
        dilation=as_pair(dilation, "dilation", minimum=1),
        groups=groups,
    )
    square_error = 0.0
    if lrn is not None:
        square_error = gamma(3 * lrn.size + 1, TENSOR_CORE_U) + (0.0 if fp32_ieee else TWO_PART_SQUARE_ERROR)
    exact, bound = fused_conv_bound(
        x,
        weight,
        bias,
        activation=activation,
        lrn=lrn,
        out_dtype=x.dtype,
        square_error=square_error,
        store_error=STORE_ERROR[x.dtype],
        u=U32 if fp32_ieee else TENSOR_CORE_U,
        input_error=TF32_INPUT_ERROR if x.dtype == torch.float32 and tf32 else 0.0,
        **conv_args,
    )
    return exact, bound + STORE_FLOOR[x.dtype]


def bound_violations(got: torch.Tensor, exact: torch.Tensor, bound: torch.Tensor) -> str | None:
    """None when every element of `got` lies within `bound` of `exact` (float64); else what is wrong. A NaN (an
    unwritten element) or an infinity always fails."""
    if got.shape != exact.shape or exact.shape != bound.shape:
        return (
            f"shapes differ: got {tuple(got.shape)}, exact {tuple(exact.shape)}, bound {tuple(bound.shape)}"
        )
    if not torch.isfinite(got).all():
        return f"{int((~torch.isfinite(got)).sum())} non-finite outputs (unwritten or overflowed)"
    error = (got.double() - exact).abs()
    bad = ~(error <= bound)  # NaN compares false: it fails
    if not bad.any():
        return None
    index = tuple(int(i) for i in bad.nonzero()[0])
    worst = float((error / bound.clamp(min=torch.finfo(torch.float64).tiny)).max())
    return (
        f"{int(bad.sum())} of {got.numel()} elements outside the rounding-error bound (worst: {worst:.3g} x the "
        f"bound); first at {index}: got {float(got[index]):.9g}, exact {float(exact[index]):.9g}, error "
        f"{float(error[index]):.3g} > bound {float(bound[index]):.3g}"
    )
