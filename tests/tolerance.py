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

The a-priori bounds the product needs too (the Triton tuner's correctness gate, benchmarks/gpu_blocks.py) live in
`alexnet_dsl.kernels.bounds` and are re-exported here; the test-only ones (`linear_bound`, the comparisons with
PyTorch's own error) are defined here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from alexnet_dsl.kernels.bounds import (  # noqa: F401  (re-exported: the tests import them from here)
    STORE_ERROR,
    TRANSCENDENTAL,
    TWO_PART_SQUARE_ERROR,
    U32,
    UNIT_ROUNDOFF,
    bound_violations,
    conv_bound,
    fused_conv_bound,
    gamma,
    lrn_bound,
)


def linear_bound(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    *,
    u: float = U32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x @ w.T + b in float64, the error bound of any evaluation accumulating with unit roundoff `u`).

    Each output is an inner product of K = in_features terms plus the bias: gamma(K + 1) (|x| @ |w|.T + |b|).
    """
    x64, w64 = x.double(), w.double()
    b64 = None if b is None else b.double()
    exact = F.linear(x64, w64, b64)
    magnitude = F.linear(x64.abs(), w64.abs(), None if b64 is None else b64.abs())
    return exact, gamma(w.shape[1] + 1, u) * magnitude


def assert_within(got: torch.Tensor, exact: torch.Tensor, bound: torch.Tensor, what: str = "result") -> None:
    """Every element of `got` within `bound` of `exact` (float64); NaN (an unwritten element) always fails."""
    assert got.shape == exact.shape == bound.shape, (got.shape, exact.shape, bound.shape)
    problem = bound_violations(got, exact, bound)
    if problem is not None:
        raise AssertionError(f"{what}: {problem}")


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


def assert_as_accurate_as_torch(
    got: torch.Tensor,
    ref32: torch.Tensor,
    ref64: torch.Tensor,
    what: str = "result",
    factor: float = SAME_ACCURACY,
) -> None:
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
            f"PyTorch's own fp32 error is {torch_fp32_error(ref32, ref64):.3g} (allowed {factor}x that)"
        )


def assert_float64_close(
    got: torch.Tensor,
    ref64: torch.Tensor,
    ref32: torch.Tensor,
    what: str = "result",
    factor: float = SAME_ACCURACY,
) -> None:
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
        raise AssertionError(
            f"{what}: error {float(error.max()):.3g} where PyTorch's fp32 error scaled to float64 "
            f"is {u64 / U32 * torch_fp32_error(ref32, ref64):.3g} (allowed {factor}x that)"
        )
