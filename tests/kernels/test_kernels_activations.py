"""Every activation of the kernel's epilogue, in the Triton interpreter, against the same function in float64.

Each compiled variant (one per kind: `ACTIVATION` is a constexpr) runs once on a tiny problem whose pre-activations
span -10..10, so every branch runs (relu6's and hardswish's clamps at 6 and +-3, the negative side of leaky_relu and
elu, tanh's and sigmoid's saturation). Every output element must lie within the kernel's a-priori rounding-error
bound (`bounds.activation_bound` on top of the conv's), and the data must be strong enough that each other
activation, GELU's tanh approximation and another argument would be outside it. The written-out derivatives of the
backward are checked against autograd in float64.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tolerance import STORE_ERROR, assert_as_accurate_as_torch, assert_float64_close, assert_within

from alexnet_dsl.kernels import Activation, LRNParams, fused_conv2d, fused_conv2d_reference, lrn_reference
from alexnet_dsl.kernels.bounds import fused_conv_bound
from alexnet_dsl.kernels.reference import ACTIVATIONS, check_conv_args, fused_conv2d_backward_reference

CONV = dict(padding=1, groups=2)
VARIANTS = [Activation.of(kind) for kind in ACTIVATIONS] + [
    Activation("leaky_relu", 0.2),
    Activation("elu", 0.5),
]


def tensors(dtype: torch.dtype = torch.float32, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """x [1, 4, 6, 6], w [8, 2, 3, 3], b [8]: 18 products per output, pre-activations of about +-10."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 4, 6, 6, generator=gen) * 1.5
    w = torch.randn(8, 2, 3, 3, generator=gen)
    b = torch.randn(8, generator=gen)
    return tuple(t.to(dtype) for t in (x, w, b))


def wrong_activations(act: Activation) -> dict[str, torch.Tensor]:
    """Functions a broken epilogue might compute instead of `act`, as functions of the pre-activation."""
    wrong = {f"`{kind}`": Activation.of(kind) for kind in ACTIVATIONS if kind != act.kind}
    if act.kind in ("leaky_relu", "elu"):
        wrong[f"`{act.kind}` with argument {2 * act.param}"] = Activation(act.kind, 2 * act.param)
    if act.kind == "gelu":
        wrong["GELU's tanh approximation"] = lambda t: F.gelu(t, approximate="tanh")
    return wrong


@pytest.mark.parametrize("act", VARIANTS, ids=lambda a: f"{a.kind}({a.param:g})")
def test_every_activation_matches_the_reference(act: Activation) -> None:
    x, w, b = tensors()
    exact, bound = fused_conv_bound(x, w, b, activation=act, lrn=None, **CONV)
    pre, _ = fused_conv_bound(x, w, b, activation=None, lrn=None, **CONV)
    assert pre.min() < -6.5 and pre.max() > 6.5, "the data must reach every branch"
    # a kernel computing another function fails: even with its own rounding it lands outside the bound somewhere
    weak = [
        name for name, f in wrong_activations(act).items() if not ((f(pre) - exact).abs() > 2 * bound).any()
    ]
    assert not weak, f"test data too weak, these would pass: {weak}"
    out = fused_conv2d(x, w, b, activation=act, allow_tf32=False, **CONV)
    assert_within(out, exact, bound, f"fused_conv2d with {act}")


@pytest.mark.parametrize(("kind", "dtype"), [("silu", torch.bfloat16), ("gelu", torch.float16)])
def test_16_bit_inputs(kind: str, dtype: torch.dtype) -> None:
    """Products of 16-bit numbers are exact in fp32 and the activation runs in fp32: the fp32 bound plus the
    rounding of the stored result."""
    x, w, b = tensors(dtype)
    exact, bound = fused_conv_bound(
        x, w, b, activation=kind, lrn=None, out_dtype=dtype, store_error=STORE_ERROR[dtype], **CONV
    )
    out = fused_conv2d(x, w, b, activation=kind, **CONV)
    assert out.dtype == dtype
    assert_within(out, exact, bound, f"{kind} in {dtype}")


def test_activation_runs_before_lrn() -> None:
    """The kernel takes any activation before LRN (the fusion pass fuses LRN only after ReLU)."""
    x, w, b = tensors()
    lrn = LRNParams(3, 1.0, 0.75, 1.0)
    exact, bound = fused_conv_bound(x, w, b, activation="hardswish", lrn=lrn, **CONV)
    swapped = F.hardswish(
        fused_conv2d_reference(x.double(), w.double(), b.double(), activation=None, lrn=lrn, **CONV)
    )
    assert ((swapped - exact).abs() > 2 * bound).any(), "LRN before the activation must fail here"
    out = fused_conv2d(x, w, b, activation="hardswish", lrn=lrn, allow_tf32=False, **CONV)
    assert_within(out, exact, bound, "hardswish then LRN")


# PyTorch's float64 hardsigmoid backward multiplies by 1.0f / 6.0f, a float32 constant (3e-8 relative off): autograd
# through the same function written as (x + 3).clamp(0, 6) / 6 is the float64 oracle there.
AS_COMPOSITE = {"hardsigmoid": lambda t: (t + 3).clamp(0, 6) / 6}


@pytest.mark.parametrize("act", VARIANTS, ids=lambda a: f"{a.kind}({a.param:g})")
def test_written_out_derivative_equals_autograd(act: Activation) -> None:
    """`Activation.backward` (the backward's plain tensor ops) against autograd through PyTorch's function, in
    float64, with every gradient asked for, and LRN after it."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64, generator=gen) * 2
    w = torch.randn(6, 2, 3, 2, dtype=torch.float64, generator=gen)
    b = torch.randn(6, dtype=torch.float64, generator=gen)
    lrn = LRNParams(3, 0.2, 0.75, 1.5)
    f = AS_COMPOSITE.get(act.kind, act)

    def reference(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = f(F.conv2d(x, w, b, stride=(1, 2), padding=(1, 0), groups=2))
        return lrn_reference(y, lrn.size, lrn.alpha, lrn.beta, lrn.k)

    geometry = check_conv_args(x, w, b, (1, 2), (1, 0), 1, 2, lrn, (torch.float64,))
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    y = reference(*leaves)
    grad_out = torch.randn(y.shape, dtype=torch.float64, generator=gen)
    expected = torch.autograd.grad(y, leaves, grad_out)
    leaves32 = [t.detach().float().requires_grad_() for t in (x, w, b)]
    in_fp32 = torch.autograd.grad(reference(*leaves32), leaves32, grad_out.float())
    got = fused_conv2d_backward_reference(grad_out, x, w, b, geometry, act, lrn, None, (True, True, True))
    for g, e, e32, name in zip(got, expected, in_fp32, ("x", "w", "b")):
        assert_float64_close(g, e, e32, f"{act}: gradient of {name}")


@pytest.mark.parametrize("act", VARIANTS, ids=lambda a: f"{a.kind}({a.param:g})")
def test_derivative_at_the_kinks_is_pytorchs(act: Activation) -> None:
    """At the points where a piecewise activation changes branch (0, +-3, 6), which random data never hits, the
    written-out derivative takes the branch PyTorch's autograd takes. PyTorch's float64 hardsigmoid backward
    multiplies by a float32 1/6: equal within float32's unit roundoff, relative."""
    z = torch.tensor([-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 7.0], dtype=torch.float64, requires_grad=True)
    (want,) = torch.autograd.grad(act(z).sum(), z)  # the reference forward: PyTorch's own functions
    got = act.backward(z.detach(), torch.ones_like(z))
    assert torch.allclose(got, want, rtol=2.0**-24, atol=0.0), (z.tolist(), got.tolist(), want.tolist())


@pytest.mark.parametrize("act", [Activation("leaky_relu", 0.2), Activation("gelu")], ids=lambda a: a.kind)
def test_gradients_through_the_kernel(act: Activation) -> None:
    x, w, b = tensors()
    inputs = [t.requires_grad_() for t in (x, w, b)]
    grad_out = torch.randn(1, 8, 6, 6, generator=torch.Generator().manual_seed(1))
    ours = torch.autograd.grad(fused_conv2d(*inputs, activation=act, **CONV), inputs, grad_out)
    theirs = torch.autograd.grad(fused_conv2d_reference(*inputs, activation=act, **CONV), inputs, grad_out)
    leaves64 = [t.detach().double().requires_grad_() for t in inputs]
    y64 = fused_conv2d_reference(*leaves64, activation=act, **CONV)
    exact = torch.autograd.grad(y64, leaves64, grad_out.double())
    for mine, ref32, ref64, name in zip(ours, theirs, exact, ("x", "w", "b")):
        assert_as_accurate_as_torch(mine, ref32, ref64, f"{act}: gradient of {name}")
