"""alexnet_dsl.backend.runtime.torch_ops against torch as the oracle.

LRN oracle: the paper's LRN is `F.local_response_norm(x, size, alpha * size, beta, k)` (PyTorch averages a
zero-padded window of `size` channels, so it divides alpha by size; the window [c - size//2, c + (size-1)//2]
is the same).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerance import (
    U32,
    UNIT_ROUNDOFF,
    assert_as_accurate_as_torch,
    assert_float64_close,
    assert_within,
    linear_bound,
    lrn_bound,
)

from alexnet_dsl.backend.runtime import torch_ops as ops

# (alpha, k, scale of the data): the paper's constants on pixel-scale activations, and alpha = 1 on unit data.
# Both make the data-dependent term alpha * S_c comparable to k, so a wrong window changes the output.
REGIMES = [(1e-4, 2.0, 100.0), (1.0, 1.0, 1.0)]


def oracle(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """The paper's LRN through PyTorch (which needs at least 3 dims, so 2-D input gets a trailing 1)."""
    if x.dim() == 2:
        return F.local_response_norm(x.unsqueeze(-1), size, alpha * size, beta, k).squeeze(-1)
    return F.local_response_norm(x, size, alpha * size, beta, k)


def naive_lrn(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """The formula written out channel by channel, independent of both torch's and our implementation."""
    C = x.shape[1]
    out = torch.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C - 1, c + (size - 1) // 2)
        s = (x[:, lo : hi + 1] ** 2).sum(1)
        out[:, c] = x[:, c] / (k + alpha * s) ** beta
    return out


def assert_lrn_close(
    got: torch.Tensor, x: torch.Tensor, size: int, alpha: float, beta: float, k: float
) -> None:
    """`got` within the rounding-error bound of an LRN evaluated in got's precision (tolerance.lrn_bound) of
    torch's LRN of the same (exact) input in float64; a float64 `got` is compared with twice the float64 bound
    (both it and the oracle round)."""
    x64 = x.detach().double()
    u = UNIT_ROUNDOFF[got.dtype]
    _, bound = lrn_bound(x64, None, size, alpha, beta, k, u=u)
    assert_within(got.detach(), oracle(x64, size, alpha, beta, k), bound * (2 if u < U32 else 1), "lrn")


def assert_lrn_matters(x: torch.Tensor, want: torch.Tensor, beta: float, k: float) -> None:
    """Guard against vacuous tests: the output must be far from the constant scale x / k**beta."""
    far = (want - x / k**beta).abs().max() / want.abs().max()
    assert far > 0.05, (
        f"LRN hardly changes this data (relative effect {far:.1e}); the test would not see a bug"
    )


@pytest.mark.parametrize("size", range(1, 8))
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 7, 16])
@pytest.mark.parametrize("alpha,k,scale", REGIMES)
@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_lrn_matches_torch(
    size: int, channels: int, alpha: float, k: float, scale: float, grad: bool
) -> None:
    torch.manual_seed(size * 100 + channels)
    x = torch.randn(2, channels, 3, 5) * scale
    want = oracle(x, size, alpha, 0.75, k)
    assert_lrn_matters(x, want, 0.75, k)
    got = ops.lrn(x.requires_grad_(grad), size, alpha, 0.75, k)
    assert got.requires_grad == grad
    assert_lrn_close(got, x, size, alpha, 0.75, k)


def test_lrn_naive_formula_agrees_with_oracle() -> None:
    """Pins the oracle itself to the paper's window for even and odd sizes, borders included."""
    x = torch.randn(2, 9, 2, 2, dtype=torch.float64) * 3
    for size in (1, 2, 4, 5, 6, 12):
        assert_lrn_close(naive_lrn(x, size, 1.0, 0.75, 1.0), x, size, 1.0, 0.75, 1.0)


@pytest.mark.parametrize("beta", [0.75, 0.5, 1.0, 0.6, 0.0])
@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_lrn_betas(beta: float, grad: bool) -> None:
    x = torch.randn(3, 10, 4, 4) * 100
    got = ops.lrn(x.requires_grad_(grad), 5, 1e-4, beta, 2.0)
    assert_lrn_close(got, x, 5, 1e-4, beta, 2.0)


@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_lrn_2d_input(grad: bool) -> None:
    x = torch.randn(4, 11) * 100
    want = naive_lrn(x, 5, 1e-4, 0.75, 2.0)
    assert_lrn_matters(x, want, 0.75, 2.0)
    got = ops.lrn(x.requires_grad_(grad), 5, 1e-4, 0.75, 2.0)
    assert got.shape == (4, 11)
    assert_lrn_close(got, x, 5, 1e-4, 0.75, 2.0)


def test_lrn_channels_last_stays_channels_last() -> None:
    x = ops.to_fast_layout(torch.relu(torch.randn(2, 96, 7, 7)) * 100)
    with torch.inference_mode():
        got = ops.lrn(x, 5, 1e-4, 0.75, 2.0)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert_lrn_close(got, x, 5, 1e-4, 0.75, 2.0)


@pytest.mark.parametrize("batch", [0, 1, 3, 40])
def test_lrn_any_batch(batch: int) -> None:
    """The fast path works on slices of the batch; sizes around and beyond one slice."""
    x = ops.to_fast_layout(torch.randn(batch, 96, 55, 55) * 100)
    with torch.inference_mode():
        got = ops.lrn(x, 5, 1e-4, 0.75, 2.0)
    assert got.shape == x.shape
    assert_lrn_close(got, x, 5, 1e-4, 0.75, 2.0)


@pytest.mark.parametrize("channels_last", [False, True])
def test_lrn_inplace(channels_last: bool) -> None:
    x = torch.randn(5, 96, 9, 9) * 100
    x = ops.to_fast_layout(x) if channels_last else x
    before = x.clone()
    with torch.no_grad():
        got = ops.lrn(x, 5, 1e-4, 0.75, 2.0, inplace=True)
    assert got is x
    assert_lrn_close(x, before, 5, 1e-4, 0.75, 2.0)


def test_lrn_inplace_is_ignored_when_a_gradient_is_needed() -> None:
    """Overwriting x would break the backward of whatever made x (here a ReLU, which saves its output)."""
    w = torch.randn(2, 6, 3, 3, requires_grad=True)
    x = torch.relu(w * 100)
    before = x.detach().clone()
    got = ops.lrn(x, 5, 1e-4, 0.75, 2.0, inplace=True)
    assert got is not x and torch.equal(x.detach(), before)
    got.sum().backward()
    assert w.grad is not None


def test_lrn_does_not_modify_its_input() -> None:
    x = torch.randn(2, 8, 3, 3) * 100
    before = x.clone()
    with torch.no_grad():
        ops.lrn(x, 5, 1e-4, 0.75, 2.0)
    assert torch.equal(x, before)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("beta", [0.75, 0.6])
def test_lrn_gradcheck(size: int, beta: float) -> None:
    torch.manual_seed(size)
    x = (torch.randn(2, 6, 2, 3, dtype=torch.float64) * 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: ops.lrn(t, size, 1.0, beta, 1.0), (x,))
    assert torch.autograd.gradgradcheck(lambda t: ops.lrn(t, size, 1.0, beta, 1.0), (x,))


def test_lrn_gradcheck_2d() -> None:
    x = (torch.randn(3, 5, dtype=torch.float64) * 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: ops.lrn(t, 3, 1.0, 0.75, 1.0), (x,))


def test_lrn_gradient_matches_torch() -> None:
    x = torch.randn(2, 7, 3, 3, dtype=torch.float64) * 100
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    g = torch.randn_like(x)
    c = x.float().requires_grad_()
    ops.lrn(a, 4, 1e-4, 0.75, 2.0).backward(g)
    oracle(b, 4, 1e-4, 0.75, 2.0).backward(g)
    oracle(c, 4, 1e-4, 0.75, 2.0).backward(g.float())  # measures this gradient's rounding
    assert_float64_close(a.grad, b.grad, c.grad, "lrn gradient")


def test_lrn_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="size"):
        ops.lrn(torch.ones(1, 3, 2, 2), 0, 1e-4, 0.75, 2.0)
    with pytest.raises(ValueError, match="dims"):
        ops.lrn(torch.ones(3), 5, 1e-4, 0.75, 2.0)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 12),
    hw=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    size=st.integers(1, 9),
    alpha=st.sampled_from([1e-4, 1e-2, 1.0]),
    beta=st.sampled_from([0.5, 0.75, 1.0, 0.3]),
    k=st.sampled_from([0.5, 1.0, 2.0]),
    grad=st.booleans(),
    channels_last=st.booleans(),
    inplace=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_lrn_property(n, c, hw, size, alpha, beta, k, grad, channels_last, inplace, seed) -> None:
    """Any shape, window and constants, fast path or autograd, either memory format, in place or not."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *hw, generator=gen, dtype=torch.float64) * alpha**-0.5
    if channels_last:
        x = ops.to_fast_layout(x)
    before = x.clone()
    got = ops.lrn(x.requires_grad_(grad), size, alpha, beta, k, inplace=inplace)
    assert_lrn_close(got, before, size, alpha, beta, k)
    assert (got is x) == (inplace and not grad)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_linear_matches_torch(relu: bool, bias: bool, grad: bool) -> None:
    x = torch.randn(64, 16).t()  # non-contiguous (16, 64)
    w, b = torch.randn(32, 64).requires_grad_(grad), torch.randn(32) if bias else None
    want = F.linear(x, w, b)
    want = torch.relu(want) if relu else want
    got = ops.linear(x, w, b, relu=relu)
    assert got.requires_grad == grad
    exact, bound = linear_bound(x, w.detach(), b)  # ReLU is 1-Lipschitz: the bound carries over
    assert_within(got.detach(), exact.relu() if relu else exact, bound, "ops.linear")
    assert_within(want.detach(), exact.relu() if relu else exact, bound, "F.linear")  # the oracle, too
    if grad:
        got.sum().backward()
        assert w.grad is not None


def test_linear_fc_sized() -> None:
    """A long reduction (K = 9216, as fc6) agrees with MKL's to float rounding."""
    x, w, b = torch.randn(16, 9216), torch.randn(64, 9216) / 96, torch.randn(64)
    exact, bound = linear_bound(x, w, b)
    with torch.inference_mode():
        assert_within(ops.linear(x, w, b, relu=True), exact.relu(), bound, "ops.linear")
        assert_within(F.linear(x, w, b).relu(), exact.relu(), bound, "F.linear")


def test_linear_takes_the_onednn_path_only_without_grad() -> None:
    """The speed claim rests on this dispatch; the op is registered once however often the code is loaded."""
    assert ops._onednn_linear_op() is ops._ONEDNN_LINEAR is torch.ops.alexnet_dsl.onednn_linear

    def ops_run(grad: bool) -> set[str]:
        x, w = torch.randn(4, 8), torch.randn(3, 8, requires_grad=grad)
        with torch.profiler.profile() as prof:
            ops.linear(x, w, relu=True)
        return {e.name for e in prof.events()}

    with torch.no_grad():
        assert "alexnet_dsl::onednn_linear" in ops_run(grad=True)
    assert "alexnet_dsl::onednn_linear" not in ops_run(grad=True)
    assert "alexnet_dsl::onednn_linear" in ops_run(grad=False)


def test_fast_layout() -> None:
    model = ops.fast_layout_(
        torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    )
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 5, 5)
    assert ops.to_fast_layout(x).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(ops.to_fast_layout(x), x)
    y = torch.randn(2, 3)
    assert ops.to_fast_layout(y) is y


def test_ops_under_torch_compile() -> None:
    """One fullgraph compile of a small conv -> relu -> lrn -> pool -> linear net, inference and training."""
    torch._dynamo.reset()
    conv = ops.fast_layout_(torch.nn.Conv2d(3, 8, 3))
    fc = torch.nn.Linear(8 * 3 * 3, 5)

    def net(x: torch.Tensor, conv=conv, fc=fc) -> torch.Tensor:
        x = F.relu(conv(ops.to_fast_layout(x)), inplace=True)
        x = F.max_pool2d(ops.lrn(x, 5, 1e-4, 0.75, 2.0), 2)
        return F.softmax(ops.linear(torch.flatten(x, 1), fc.weight, fc.bias, relu=True), dim=1)

    conv64, fc64 = copy.deepcopy(conv).double(), copy.deepcopy(fc).double()  # the same net in float64

    x = torch.randn(2, 3, 8, 8) * 100
    compiled = torch.compile(net, fullgraph=True)
    with torch.no_grad():
        assert_as_accurate_as_torch(compiled(x), net(x), net(x.double(), conv64, fc64), "compiled net")
    xg = x.clone().requires_grad_()
    compiled(xg).square().sum().backward()
    xr = x.clone().requires_grad_()
    net(xr).square().sum().backward()
    x64 = x.double().requires_grad_()
    net(x64, conv64, fc64).square().sum().backward()
    assert_as_accurate_as_torch(xg.grad, xr.grad, x64.grad, "compiled net's gradient")
