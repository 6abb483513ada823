"""conv -> batchnorm (-> activation), fused: the batchnorm folded into the conv in eval, exact BN in training.

The triton and auto backends run such a chain as one op (backend/fuse.py). In eval the batchnorm's running
statistics are folded into the conv's weight and bias at each call (w s, (b - mean) s + beta with
s = gamma / sqrt(var + eps)): the Triton kernel (here in the interpreter), or on CPU tensors (auto) one PyTorch
conv where the fold writes fewer values than the batchnorm's pass would. The
parameters and buffers keep their modules, names and values: a torchvision-style state dict loads, training uses
the batch's statistics and updates the running ones exactly as the torch backend does.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from tolerance import U32, assert_as_accurate_as_torch, assert_within, conv_bound

import alexnet_dsl
from alexnet_dsl.kernels import Activation
from alexnet_dsl.kernels.bounds import activation_bound

SPEC = """network Folded(x: [N, 3, 7, 7]) {{
    conv1: conv(6, kernel=3, padding=1{bias})
    bn1: batchnorm(eps=1e-3)
    {activation}
}}
"""


@pytest.fixture(autouse=True)
def triton_interpreter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The triton backend's kernels on CPU tensors (tests/kernels/conftest.py has the details)."""
    from alexnet_dsl.kernels import tuning

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("ALEXNET_DSL_POISON_OUTPUT", "1")
    tuning.clear_cache()
    yield
    tuning.clear_cache()


def spec(activation: str | None, bias: bool = True) -> str:
    return SPEC.format(bias="" if bias else ", bias=false", activation=activation or "")


def state(seed: int = 0, bias: bool = True) -> dict[str, torch.Tensor]:
    """A torchvision-style state dict with statistics far from the identity (so a missed fold shows)."""
    gen = torch.Generator().manual_seed(seed)
    out = {"conv1.weight": torch.randn(6, 3, 3, 3, generator=gen)}
    if bias:
        out["conv1.bias"] = torch.randn(6, generator=gen)
    out |= {
        "bn1.weight": torch.randn(6, generator=gen) * 2,
        "bn1.bias": torch.randn(6, generator=gen),
        "bn1.running_mean": torch.randn(6, generator=gen) * 3,
        "bn1.running_var": torch.rand(6, generator=gen) * 4 + 0.1,
        "bn1.num_batches_tracked": torch.tensor(7),
    }
    return out


def folded_bound(
    x: torch.Tensor,
    p: dict[str, torch.Tensor],
    activation: str | None,
    conv: str = "conv1",
    bn: str = "bn1",
    padding: int = 1,
) -> tuple[torch.Tensor, ...]:
    """(the unfolded network in eval, in float64, a bound on the error of the folded evaluation in fp32).

    Exactly, bn(conv(x)) = conv(x; w s, (b - mean) s + beta). In fp32: var + eps (eps itself rounded), sqrt and
    the division make s within 3 u; w s is one more rounding, so each folded weight is within 4 u, which
    `conv_bound` carries as an input error of 2 u (2 e of |w||x| per product, x itself exact); the folded bias
    takes b - mean (u), times s (3 u + u) and + beta (u): 6 u (|b - mean| |s| + |beta|). Then the conv's own
    rounding (gamma(K + 1)) and the activation's (`activation_bound`: PyTorch's ReLU is exact, and its SiLU
    within the kernel's error model).
    """
    d = {k: v.double() for k, v in p.items()}
    eps = 1e-3 if bn == "bn1" else 1e-5
    s = d[f"{bn}.weight"] / torch.sqrt(d[f"{bn}.running_var"] + eps)
    centred = d.get(f"{conv}.bias", torch.zeros_like(s)) - d[f"{bn}.running_mean"]
    w = d[f"{conv}.weight"] * s.view(-1, 1, 1, 1)
    b = centred * s + d[f"{bn}.bias"]
    exact, bound = conv_bound(x, w, b, input_error=2 * U32, padding=padding)
    bound = bound + (6 * U32 * (centred.abs() * s.abs() + d[f"{bn}.bias"].abs())).view(1, -1, 1, 1)
    return activation_bound(exact, bound, Activation.of(activation))


def pair(backend: str, activation: str | None, bias: bool = True) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the torch backend's module, `backend`'s), with one state dict."""
    ref = alexnet_dsl.compile(spec(activation, bias), backend="torch")
    fused = alexnet_dsl.compile(spec(activation, bias), backend=backend)
    ref.load_state_dict(state(bias=bias))
    fused.load_state_dict(state(bias=bias))
    return ref, fused


@pytest.mark.parametrize("backend", ["auto", "triton"])
def test_parameters_and_buffers_keep_their_names(backend: str):
    ref = alexnet_dsl.compile(spec("relu"), backend="torch")
    fused = alexnet_dsl.compile(spec("relu"), backend=backend)
    assert "_fused_conv(" in fused.dslc_source and "bn=self.bn1" in fused.dslc_source
    assert {k: v.shape for k, v in fused.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    fused.load_state_dict(state(), strict=True)


@pytest.mark.parametrize(
    ("backend", "activation", "bias"),
    [("auto", "relu", True), ("auto", None, False), ("auto", "silu", True), ("triton", "silu", False)],
)
def test_eval_folds_within_the_rounding_bound(
    backend: str, activation: str | None, bias: bool, monkeypatch: pytest.MonkeyPatch
):
    """In eval the folded conv equals the unfolded conv -> batchnorm, to the derived rounding bound (the batchnorm
    module is not run: it is folded); the parameters and buffers are left as they were."""
    _, model = pair(backend, activation, bias)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(1)) * 2
    runs = batchnorm_runs(monkeypatch)
    with torch.no_grad():
        out = model(x)
    assert runs == [], "the batchnorm ran: nothing was folded"
    exact, bound = folded_bound(x, state(bias=bias), activation)
    assert_within(out, exact, bound, f"folded conv + batchnorm ({backend})")
    p = state(bias=bias)
    conv_only = Activation.of(activation)(conv_bound(x, p["conv1.weight"], p.get("conv1.bias"), padding=1)[0])
    assert ((conv_only - exact).abs() > 2 * bound).any(), "the batchnorm must matter on this data"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("backend", ["auto", "triton"])
def test_training_keeps_exact_batchnorm(backend: str):
    """In training the batch's statistics normalise and the running ones update, as in the torch backend. auto runs
    the same PyTorch ops on the same (channels-last) tensors: the same bits. triton runs them on NCHW tensors, so
    another summation order: as close to the float64 computation as the torch backend's own fp32 one."""
    ref, model = pair(backend, "relu")
    ref64 = copy.deepcopy(ref).double()
    x = torch.randn(4, 3, 7, 7, generator=torch.Generator().manual_seed(2))
    outs = []
    for m, inp in ((ref, x), (model, x), (ref64, x.double())):
        m.train()
        outs.append(m(inp))
        outs[-1].square().sum().backward()
    values = zip(ref.state_dict().values(), model.state_dict().values(), ref64.state_dict().values())
    grads = (
        (a.grad, b.grad, c.grad) for a, b, c in zip(ref.parameters(), model.parameters(), ref64.parameters())
    )
    for name, (a, b, c) in zip(
        ["output", *ref.state_dict(), *(f"{n}.grad" for n, _ in ref.named_parameters())],
        [outs, *values, *grads],
    ):
        if backend == "auto" or not b.is_floating_point():
            assert torch.equal(a, b), name  # num_batches_tracked: 8 in both
        else:
            assert_as_accurate_as_torch(b.detach(), a.detach(), c.detach(), name)


def test_eval_after_training_folds_the_new_statistics():
    """Nothing is cached across calls: the running statistics a training step updates are the ones folded."""
    _, model = pair("auto", "relu")
    model.train()
    model(torch.randn(8, 3, 7, 7, generator=torch.Generator().manual_seed(3)) * 3)
    updated = {k: v.clone() for k, v in model.state_dict().items()}
    assert not torch.equal(updated["bn1.running_mean"], state()["bn1.running_mean"])
    model.eval()
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = model(x)
    assert_within(out, *folded_bound(x, updated, "relu"), "folded with the updated statistics")


def test_a_hook_on_the_batchnorm_sees_its_own_output():
    """A hooked batchnorm is called as its module (no fold), so the hook sees what the torch backend's does."""
    ref, model = pair("auto", "relu")
    seen = []
    for m in (ref, model):
        m.eval()
        m.bn1.register_forward_hook(lambda mod, args, out: seen.append(out.clone()))
    x = torch.randn(2, 3, 7, 7)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))
    assert torch.equal(seen[0], seen[1])


def test_gradients_flow_through_the_fold_in_eval():
    """Eval with gradients (saliency, adversarial inputs): the fold is differentiable, so the batchnorm's affine
    parameters and the input get the unfolded network's gradients (the kernel's backward, then the fold's)."""
    ref, model = pair("triton", "silu")
    ref64 = copy.deepcopy(ref).double()
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(5))
    grads = []
    for m, inp in ((ref, x), (model, x), (ref64, x.double())):
        m.eval()
        leaf = inp.clone().requires_grad_()
        m(leaf).square().sum().backward()
        grads.append([leaf.grad, *(p.grad for p in m.parameters())])
    names = ["x", *(n for n, _ in ref.named_parameters())]
    for name, a, b, c in zip(names, *grads):
        assert_as_accurate_as_torch(b, a, c, f"gradient of {name}")
    assert ref.bn1.running_mean.equal(model.bn1.running_mean)  # eval: no update


def test_a_hooked_conv_runs_its_activation_in_pytorch():
    """With a hook on the conv, the fused op calls it as its module and applies the activation (with its argument)
    in PyTorch: the hook sees the conv's own output."""
    text = "network T(x: [N, 3, 7, 7]) {\n    c: conv(5, kernel=3)\n    leaky_relu(0.2)\n}\n"
    ref = alexnet_dsl.compile(text, backend="torch")
    model = alexnet_dsl.compile(text, backend="triton")
    model.load_state_dict(ref.state_dict())
    seen = []
    model.c.register_forward_hook(lambda mod, args, out: seen.append(out.clone()))
    x = torch.randn(2, 3, 7, 7)
    with torch.no_grad():
        out = model(x)
    assert len(seen) == 1 and torch.equal(out, torch.nn.functional.leaky_relu(seen[0], 0.2))
    assert_within(seen[0], *conv_bound(x, model.c.weight.detach(), model.c.bias.detach()))


def batchnorm_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time a BatchNorm2d runs its forward (patched on the class, so that each module
    is still a plain BatchNorm2d that the fold may stand in for)."""
    runs: list[int] = []
    forward = torch.nn.BatchNorm2d.forward

    def counted(self, x):
        runs.append(1)
        return forward(self, x)

    monkeypatch.setattr(torch.nn.BatchNorm2d, "forward", counted)
    return runs


def test_on_the_cpu_auto_folds_where_the_batchnorm_pass_is_the_larger(monkeypatch: pytest.MonkeyPatch):
    """On CPU tensors the fold rewrites 3 x 5 x 5 = 75 weights per channel to save the batchnorm's pass over
    N x 7 x 7 values per channel: not for one image (49), for two (98)."""
    text = "network T(x: [N, 3, 7, 7]) {\n    c: conv(6, kernel=5, padding=2)\n    bn: batchnorm\n}\n"
    ref = alexnet_dsl.compile(text, backend="torch")
    model = alexnet_dsl.compile(text, backend="auto")
    p = {k.replace("conv1", "c").replace("bn1", "bn"): v for k, v in state().items()}
    p["c.weight"] = torch.randn(6, 3, 5, 5)
    for m in (ref, model):
        m.load_state_dict(p)
        m.eval()
    x = torch.randn(2, 3, 7, 7)
    runs = batchnorm_runs(monkeypatch)
    with torch.no_grad():
        assert torch.equal(model(x[:1]), ref(x[:1]))  # the same conv and batchnorm modules
        assert len(runs) == 2  # one image: not folded, the batchnorm ran (as in the torch backend)
        folded = model(x)
    assert len(runs) == 2, "two images: folded, the batchnorm does not run"
    assert_within(folded, *folded_bound(x, p, None, "c", "bn", 2))


def test_the_cpu_benchmark_runs(tmp_path):
    """A dry run of benchmarks/cpu_fold_bn.py (the numbers are machine-dependent and not asserted)."""
    spec = tmp_path / "t.net"
    spec.write_text(
        "network T(x: [N, 3, H, W]) {\n    c: conv(8, kernel=3, padding=1)\n    bn: batchnorm\n    relu\n}\n"
    )
    script = Path(__file__).parents[2] / "benchmarks" / "cpu_fold_bn.py"
    args = ["--spec", str(spec), "--size", "16", "--batch", "2", "--iters", "1", "--warmup", "0"]
    run = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"^\s+2\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$", run.stdout, re.M), run.stdout
