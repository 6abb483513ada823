"""Numerical tolerances, derived: a float64 reference and a bound on the rounding error of the computation.

No tolerance in the suite is a constant that happened to pass on one CPU. Two kinds:

* An a-priori bound, element by element, for computations whose operations we know (conv, linear, LRN, and the
  fused conv + bias + ReLU + LRN kernel): `conv_bound`, `linear_bound`, `lrn_bound`, `fused_conv_bound`, checked
  with `assert_within`. It holds for every summation order, so for every BLAS, thread count and tile shape, and it
  scales with the magnitudes that actually produce the error (the pre-LRN sums of |w||x|), not with the output's
  maximum, which LRN compresses.
* PyTorch's own fp32 error on the same data, for whole networks and gradients: the result under test must be as
  close to the float64 evaluation as PyTorch's fp32 evaluation of the same function is, up to a small factor
  (`assert_as_accurate_as_torch`); two float64 evaluations, to that error scaled to float64
  (`assert_float64_close`).

Notation (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 2-3): u is the unit roundoff of
a format, gamma(n) = n u / (1 - n u). An inner product of n terms computed in floating point, in any order, has
|fl(x.y) - x.y| <= gamma(n) |x|.|y| (Higham 3.5). Errors below are first-order: the neglected terms are products of
two relative errors (< 1e-6 here), a millionth of what they multiply.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# unit roundoff (round to nearest) of each format: half the distance from 1 to the next number
UNIT_ROUNDOFF = {torch.float64: 2.0**-53, torch.float32: 2.0**-24, torch.float16: 2.0**-11,
                 torch.bfloat16: 2.0**-8}
U32 = UNIT_ROUNDOFF[torch.float32]
# exp2/log2 in float32: numpy's SIMD implementations (what the Triton interpreter runs) are tested by NumPy to
# within 4 ULP (measured here: 2.3 u), CUDA's exp2f/log2f are specified within 2 ULP and the ex2/lg2.approx
# instructions Triton emits within 2^-22 relative: 4 ULP = 8 u covers all of them.
TRANSCENDENTAL = 8 * U32


def gamma(n: int, u: float = U32) -> float:
    """Higham's gamma_n: the relative error bound of n successive roundings."""
    assert n * u < 1, (n, u)
    return n * u / (1 - n * u)


def _window_sum(t: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """out[:, c] = sum of t[:, j] for j in [c - before, c + after] (channels outside are 0); [N, C, ...]."""
    channels = t.shape[1]
    padded = F.pad(t, [0, 0] * (t.dim() - 2) + [before, after])
    return sum(padded[:, i:i + channels] for i in range(before + after + 1))


def conv_bound(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, *, u: float = U32,
               **conv: object) -> tuple[torch.Tensor, torch.Tensor]:
    """(exact conv2d(x, w) + b in float64, a bound on the error of any fp32-accumulated evaluation), per element.

    Each output is an inner product of K = (in channels per group) x KH x KW products plus the bias, so (Higham 3.5)
    |error| <= gamma(K + 1) (sum |w||x| + |b|), for any summation order, blocking or FMA use. Products of 16-bit
    inputs are exact in fp32, so 16-bit inputs accumulated in fp32 have the same bound with u = u32.
    """
    x64, w64 = x.double(), w.double()
    b64 = None if b is None else b.double()
    exact = F.conv2d(x64, w64, b64, **conv)
    magnitude = F.conv2d(x64.abs(), w64.abs(), None if b64 is None else b64.abs(), **conv)
    terms = w.shape[1] * w.shape[2] * w.shape[3]
    return exact, gamma(terms + 1, u) * magnitude


def lrn_bound(a: torch.Tensor, err: torch.Tensor | None, size: int, alpha: float, beta: float, k: float, *,
              square_error: float = 0.0, u: float = U32) -> tuple[torch.Tensor, torch.Tensor]:
    """(the paper's LRN of the exact `a` in float64, a bound on the error of an LRN of a computed `a` evaluated
    with unit roundoff `u` (fp32 by default); `err` None: `a` is exact).

    `a` is exact (float64) and the LRN's input is known only to within `err`, elementwise. LRN is
    y_c = a_c d_c^-beta with d_c = k + alpha S_c, S_c = sum of a_j^2 over the window W(c); k > 0.

    Input error (mean value theorem): dy_c/da_j = delta_cj d_c^-beta - 2 alpha beta a_c a_j d_c^(-beta-1), taken at
    some point within `err` of `a`, where |a_j| <= A_j = |a_j| + err_j and d_c >= D_c = k + alpha sum (|a_j| -
    err_j)_+^2, so |dy_c| <= D_c^-beta err_c + 2 alpha beta A_c D_c^(-beta-1) sum_W(c) A_j err_j.

    Its own rounding, relative to |y_c| <= A_c D_c^-beta: the squares (u, plus `square_error` where a kernel
    rounds the parts it splits them into) and their sum, where each square may enter as up to 3 exact bf16 parts
    (the fused kernel's split): gamma(3 size + 1); alpha S and + k, 2u; so d to gamma(3 size + 3) + square_error,
    and d^-beta to beta times that. The kernel computes d^-beta as
    exp2(-beta log2 d): log2, the product and exp2 add ln 2 beta (|log2 d| (eps_f + u) + eps_f) + eps_f, with
    eps_f = TRANSCENDENTAL (8 u in other formats); and the final product a d^-beta one more u. An evaluation
    by pow or rsqrt instead of exp2/log2 has a smaller error than this.
    """
    a = a.double()
    err = torch.zeros_like(a) if err is None else err
    eps_f = TRANSCENDENTAL * u / U32
    before, after = size // 2, (size - 1) // 2
    exact_d = k + alpha * _window_sum(a * a, before, after)
    exact = a * exact_d.pow(-beta)
    upper = a.abs() + err
    lower = (a.abs() - err).clamp(min=0)
    d_low = k + alpha * _window_sum(lower * lower, before, after)
    propagated = d_low.pow(-beta) * err + 2 * alpha * beta * upper * d_low.pow(-beta - 1) * _window_sum(
        upper * err, before, after)
    d_high = k + alpha * _window_sum(upper * upper, before, after)
    rel_d = gamma(3 * size + 3, u) + square_error
    rel_pow = beta * rel_d + math.log(2) * beta * (d_high.log2().abs() * (eps_f + u) + eps_f)
    rounding = (rel_pow + eps_f + u) * upper * d_low.pow(-beta)
    return exact, propagated + rounding


def linear_bound(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, *, u: float = U32,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(x @ w.T + b in float64, the error bound of any evaluation accumulating with unit roundoff `u`).

    Each output is an inner product of K = in_features terms plus the bias: gamma(K + 1) (|x| @ |w|.T + |b|).
    """
    x64, w64 = x.double(), w.double()
    b64 = None if b is None else b.double()
    exact = F.linear(x64, w64, b64)
    magnitude = F.linear(x64.abs(), w64.abs(), None if b64 is None else b64.abs())
    return exact, gamma(w.shape[1] + 1, u) * magnitude


def fused_conv_bound(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, *, relu: bool, lrn,
                     out_dtype: torch.dtype = torch.float32, square_error: float = 0.0,
                     store_error: float | None = None, **conv: object) -> tuple[torch.Tensor, torch.Tensor]:
    """(conv + bias, ReLU, LRN of the exact inputs in float64, a bound on an fp32-accumulated kernel's error).

    ReLU is 1-Lipschitz and exact, so the conv's bound passes through it unchanged; LRN as in `lrn_bound`; then
    the store converts to `out_dtype` with a relative error `store_error` (default u_out, rounding to nearest;
    nothing more for float32: LRN's last product is that rounding).
    """
    y, err = conv_bound(x, w, b, **conv)
    if relu:
        y = y.clamp(min=0)
    if lrn is not None:
        y, err = lrn_bound(y, err, lrn.size, lrn.alpha, lrn.beta, lrn.k, square_error=square_error)
    if out_dtype != torch.float32:
        err = err + (UNIT_ROUNDOFF[out_dtype] if store_error is None else store_error) * (y.abs() + err)
    return y, err


def assert_within(got: torch.Tensor, exact: torch.Tensor, bound: torch.Tensor, what: str = "result") -> None:
    """Every element of `got` within `bound` of `exact` (float64); NaN (an unwritten element) always fails."""
    assert got.shape == exact.shape == bound.shape, (got.shape, exact.shape, bound.shape)
    error = (got.double() - exact).abs()
    bad = ~(error <= bound)  # NaN compares false: it fails
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {got.numel()} elements outside the rounding-error bound; first at "
            f"{index}: got {float(got[index]):.9g}, exact {float(exact[index]):.9g}, error {float(error[index]):.3g}"
            f" > bound {float(bound[index]):.3g}")


def torch_fp32_error(ref32: torch.Tensor, ref64: torch.Tensor) -> float:
    """PyTorch's own fp32 error on this data: max |fp32 result - float64 result|."""
    return float((ref32.double() - ref64).abs().max())


# A different operation order than PyTorch's (another summation order, a fused kernel, another library) has the
# same a-priori error bound as PyTorch's; what it realises on given data is a sum of as many roundings of the same
# sizes, so its maximum lands near PyTorch's. Measured on the suite's data (every caller, AMD EPYC, 2 threads):
# at most 1.9x, the gradient of a bias through the fused kernel's written-out backward. 4x leaves room for
# another machine's rounding without letting through an error of the size of a real bug (a dropped term, a wrong
# window: 100x and more, asserted where it matters).
SAME_ACCURACY = 4.0


def assert_as_accurate_as_torch(got: torch.Tensor, ref32: torch.Tensor, ref64: torch.Tensor,
                                what: str = "result", factor: float = SAME_ACCURACY) -> None:
    """max |got - ref64| <= factor x PyTorch's fp32 error on the same data (+ one rounding of the result).

    ref32 / ref64: the same function evaluated by PyTorch (modules the test builds) in float32 and float64. The
    floor u |ref64| (elementwise) is the rounding of the exact result into float32 that no evaluation can avoid:
    it keeps the check meaningful where PyTorch happens to be exact.
    """
    assert got.shape == ref32.shape == ref64.shape, (got.shape, ref32.shape, ref64.shape)
    u = UNIT_ROUNDOFF[got.dtype]
    error = (got.double() - ref64).abs()
    allowed = factor * torch_fp32_error(ref32, ref64) + u * ref64.abs()
    bad = ~(error <= allowed)
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise AssertionError(
            f"{what}: error {float(error.max()):.3g} (first bad element {index}: {float(error[index]):.3g}) where "
            f"PyTorch's own fp32 error is {torch_fp32_error(ref32, ref64):.3g} (allowed {factor}x that)")


def assert_float64_close(got: torch.Tensor, ref64: torch.Tensor, ref32: torch.Tensor, what: str = "result",
                         factor: float = SAME_ACCURACY) -> None:
    """Two float64 evaluations of one function in different orders, `got` and `ref64`; `ref32` is `ref64`'s
    computation in float32.

    To first order a rounding error is proportional to the unit roundoff, so PyTorch's float64 error on this data
    is its float32 error scaled by u64 / u32; `got` may be `factor` times that, plus the rounding of both results.
    """
    assert got.dtype == ref64.dtype == torch.float64 and got.shape == ref64.shape == ref32.shape
    u64 = UNIT_ROUNDOFF[torch.float64]
    error = (got - ref64).abs()
    allowed = factor * (u64 / U32) * torch_fp32_error(ref32, ref64) + 2 * u64 * ref64.abs()
    bad = ~(error <= allowed)
    if bad.any():
        raise AssertionError(f"{what}: error {float(error.max()):.3g} where PyTorch's fp32 error scaled to float64 "
                             f"is {u64 / U32 * torch_fp32_error(ref32, ref64):.3g} (allowed {factor}x that)")
