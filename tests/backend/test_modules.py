"""Generated modules a PyTorch user can rely on: every layer with parameters is called as its module, so
forward hooks fire, `quantize_dynamic` swaps the linear layers, a replaced head runs, and a wrong feature size
gives PyTorch's own error; the fast CPU path (oneDNN's matmul) survives all of that.

Tolerances are error bounds, not constants: one float32 linear layer computes each output as a sum of K + 1
rounded products, so |fl(y) - y| <= gamma_{K+1} * (|x| @ |W|^T + |b|), gamma_n = n u / (1 - n u), u = 2^-24
(Higham, Accuracy and Stability of Numerical Algorithms, 3.1), whatever the summation order or BLAS.
"""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
from tolerance import assert_within, conv_bound, linear_bound
from torch import nn

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.backend.build import instantiate
from alexnet_dsl.backend.codegen import generate
from alexnet_dsl.backend.runtime import torch_ops as ops

SPEC = """network Head(x: [N, 24]) {
    fc6: linear(32)
    relu
    fc7: linear(32)
    relu
    fc8: linear(5)
    softmax
}
"""


def fp32_linear_bound(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Elementwise bound on float32 `F.linear(x, w, b)`'s rounding error, in float64 (tolerance.linear_bound)."""
    return linear_bound(x, w, b)[1]


def assert_linear_output(
    out: torch.Tensor, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool = False
) -> None:
    """`out` is float32 `F.linear(x, w, b)` (then ReLU, which is exact and 1-Lipschitz, so the bound carries
    over) up to rounding: compared with the float64 value under its bound."""
    exact, bound = linear_bound(x, w, b)
    assert_within(out, F.relu(exact) if relu else exact, bound)


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return alexnet_dsl.compile(SPEC, backend="torch").eval()


def test_forward_hook_on_fc7_fires_and_sees_its_tensors(model):
    seen = []
    # cloned, as with torchvision's AlexNet: the ReLU after fc7 then overwrites fc7's output in place
    model.fc7.register_forward_hook(lambda mod, args, out: seen.append((mod, args[0].clone(), out.clone())))
    x = torch.randn(4, 24)
    with torch.no_grad():  # the oneDNN path
        model(x)
        assert len(seen) == 1 and seen[0][0] is model.fc7
        _, inp, out = seen[0]
        assert_linear_output(inp, x, model.fc6.weight, model.fc6.bias, relu=True)  # relu(fc6(x))
        assert_linear_output(out, inp, model.fc7.weight, model.fc7.bias)
        assert bool((out < 0).any())  # fc7's own output, before the ReLU
        # what a hook returns is what the network goes on with: zeros through relu and fc8 leave fc8's bias
        model.fc7.register_forward_hook(lambda mod, args, out: torch.zeros_like(out))
        got = model(x)
        assert torch.equal(got, F.softmax(model.fc8.bias.expand(4, -1), dim=1))


def test_quantize_dynamic_swaps_every_linear_and_stays_within_the_quantisation_error(model):
    from torch.ao.nn.quantized import dynamic as nnqd

    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(model, {nn.Linear})
    assert all(type(getattr(q, name)) is nnqd.Linear for name in ("fc6", "fc7", "fc8"))
    seen = {}
    for name in ("fc6", "fc7", "fc8"):
        getattr(q, name).register_forward_hook(
            lambda mod, args, out, name=name: seen.__setitem__(name, (args[0].clone(), out.clone()))
        )
    x = torch.randn(4, 24)
    with torch.no_grad():
        got = q(x)
    assert got.shape == (4, 5) and torch.equal(got, F.softmax(seen["fc8"][1], dim=1))
    for name in ("fc6", "fc7", "fc8"):
        inp, out = seen[name]
        float_layer = getattr(model, name)
        w, b = float_layer.weight.detach(), float_layer.bias.detach()
        # int8 weights round to within s_w / 2 of w, the activations to within s_x / 2 (at most 127 steps
        # over their range including 0); the int32 products are exact, so the error of an output is at most
        # s_w/2 |x|_1 + s_x/2 |w|_1 + K s_w s_x / 4, plus float32 rounding of the rescaling and bias
        s_w = getattr(q, name).weight().q_scale()
        s_x = (inp.max().clamp(min=0) - inp.min().clamp(max=0)).item() / 127
        k = w.shape[1]
        bound = (
            s_w / 2 * inp.double().abs().sum(1, keepdim=True)
            + s_x / 2 * w.double().abs().sum(1)
            + k * s_w * s_x / 4
        ) + 2 * fp32_linear_bound(inp, w, b)
        err = (out.double() - F.linear(inp.double(), w.double(), b.double())).abs()
        assert bool((err <= bound).all()), name
        # and it did quantize: somewhere the error exceeds what float32 rounding alone can explain
        assert bool((err > fp32_linear_bound(inp, w, b)).any()), (
            f"{name} within float32 rounding: not quantized"
        )


def test_replacing_the_head_with_a_sequential_works(model):
    torch.manual_seed(1)
    model.fc8 = nn.Sequential(nn.Linear(32, 3), nn.ReLU())
    seen = []
    model.fc8.register_forward_hook(lambda mod, args, out: seen.append((args[0], out)))
    x = torch.randn(4, 24)
    with torch.no_grad():
        got = model(x)
    inp, out = seen[0]
    assert got.shape == (4, 3) and torch.equal(got, F.softmax(out, dim=1))
    # relu is 1-Lipschitz and exact: the bound of the linear layer inside the head holds after it
    want = F.relu(F.linear(inp.double(), model.fc8[0].weight.double(), model.fc8[0].bias.double()))
    assert bool(
        ((out.double() - want).abs() <= fp32_linear_bound(inp, model.fc8[0].weight, model.fc8[0].bias)).all()
    )


@pytest.mark.parametrize("grad", [False, True])
def test_a_wrong_feature_size_gives_pytorchs_error(model, grad):
    model.fc7 = nn.Linear(30, 32)
    with (
        torch.set_grad_enabled(grad),
        pytest.raises(
            RuntimeError,
            match=r"mat1 and mat2 shapes cannot be "
            r"multiplied \(4x32 and 30x32\)",
        ),
    ):
        model(torch.randn(4, 24))


def test_ops_linear_checks_shapes_before_onednn():
    with torch.no_grad(), pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied"):
        ops.linear(torch.randn(2, 5), torch.randn(3, 4), torch.randn(3))
    with torch.no_grad(), pytest.raises(RuntimeError, match="size"):  # a bias of the wrong length: F.linear's
        ops.linear(torch.randn(2, 4), torch.randn(3, 4), torch.randn(5))


def test_onednn_mode_takes_the_fast_path_for_plain_linear_modules():
    """`fast_call` routes an nn.Linear's F.linear to the custom oneDNN op without a gradient (a torch build
    without oneDNN has no such op: then it is a plain module call), and to F.linear with one."""
    layer = nn.Linear(8, 4)
    x = torch.randn(3, 8)
    for grad in (False, True):
        with torch.set_grad_enabled(grad), torch.profiler.profile() as prof:
            out = ops.fast_call(layer, x)
        fast = not grad and ops._ONEDNN_LINEAR is not None
        assert ("alexnet_dsl::onednn_linear" in {e.name for e in prof.events()}) == fast
        assert_linear_output(out.detach(), x, layer.weight.detach(), layer.bias.detach())


TRITON_SPEC = """network Fused(x: [N, 3, 12, 12]) {
    conv1: conv(8, kernel=3, padding=1)
    relu
    lrn(size=5, alpha=1e-4, beta=0.75, k=2)
    flatten
    fc: linear(4)
}
"""


@pytest.mark.parametrize("backend", ["triton", "auto"])
def test_fused_conv_is_called_as_its_module_once_it_has_a_hook(backend):
    """A fused conv -> ReLU -> LRN group runs the Triton kernel only while calling the conv would run
    nn.Conv2d.forward alone; with a hook the conv module runs (the hook sees the conv's own output) and ReLU
    and LRN follow in PyTorch. The kernel is replaced by a recorder, so no GPU is needed."""
    cls = instantiate(generate(check_text(TRITON_SPEC), backend=backend), "Fused", "fused.net")
    namespace = vars(sys.modules[cls.__module__])
    calls = []

    def kernel(x, w, b, **kw):
        calls.append(kw)
        return torch.zeros(x.shape[0], w.shape[0], *x.shape[2:])

    torch.manual_seed(0)
    model = cls().eval()
    x = torch.randn(2, 3, 12, 12)
    original = namespace["fused_conv2d"]
    namespace["fused_conv2d"] = kernel
    try:
        if backend == "triton":  # without hooks, the kernel (auto runs PyTorch ops on CPU tensors anyway)
            with torch.no_grad():
                model(x)
            assert len(calls) == 1
        seen, fc_in = [], []
        model.conv1.register_forward_hook(lambda mod, args, out: seen.append(out))
        model.fc.register_forward_hook(lambda mod, args, out: fc_in.append(args[0]))
        with torch.no_grad():
            got = model(x)
        assert len(calls) == (1 if backend == "triton" else 0) and len(seen) == 1
        w, b = model.conv1.weight.detach(), model.conv1.bias.detach()
        with torch.no_grad():
            # the hook saw the conv's output: float64 conv, under the bound of a sum of 27 + 1 products
            assert_within(seen[0], *conv_bound(x, w, b, padding=1))
            # then ReLU, LRN (the same code as ops.lrn, bit for bit) and fc on what the hook saw
            assert torch.equal(fc_in[0], torch.flatten(ops.lrn(F.relu(seen[0]), 5, 1e-4, 0.75, 2.0), 1))
        assert_linear_output(got, fc_in[0], model.fc.weight, model.fc.bias)
    finally:
        namespace["fused_conv2d"] = original
