"""alexnet_dsl.compile(backend="triton") runs the fused kernels (here in the interpreter, on CPU
tensors) and computes what backend="torch" computes."""

from __future__ import annotations

import time
from pathlib import Path

import torch

import alexnet_dsl
from alexnet_dsl.testing import assert_shapes

ROOT = Path(__file__).parent.parent.parent

SMALL = """network Small(x: [N, 6, 13, 11]) -> [N, 7] {
    c1: conv(8, kernel=(3, 2), stride=(2, 1), padding=(1, 0), groups=2)
    relu
    lrn(size=4, alpha=1e-2, beta=0.75, k=2)
    c2: conv(10, kernel=3, padding=1, groups=2)
    relu
    pool: maxpool(kernel=2)
    flatten
    fc: linear(7)
}
"""


def pair(spec, **kw) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    ref = alexnet_dsl.compile(spec, backend="torch", **kw)
    fused = alexnet_dsl.compile(spec, backend="triton", **kw)
    fused.load_state_dict(ref.state_dict())  # one parameter layout for every backend
    return ref, fused


def test_small_network_matches_torch_forward_and_backward():
    ref, fused = pair(SMALL)
    assert fused.dslc_backend == "triton" and "fused_conv2d" in fused.dslc_source
    x = torch.randn(3, 6, 13, 11) * 10
    torch.testing.assert_close(fused(x), ref(x), rtol=1e-5, atol=1e-5)
    ref(x).square().sum().backward()
    fused(x).square().sum().backward()
    for (name, a), (_, b) in zip(ref.named_parameters(), fused.named_parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-4, msg=name)


def test_alexnet_matches_torch():
    ref, fused = pair(ROOT / "specs" / "alexnet.net")
    ref.eval()
    fused.eval()
    x = torch.randn(1, 3, 227, 227) * 100  # pixel-scale inputs: LRN changes the result visibly
    start = time.perf_counter()
    with torch.no_grad():
        got = fused(x)
        want = ref(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    assert time.perf_counter() - start < 120


def test_runtime_shapes_with_fused_layers():
    model = alexnet_dsl.compile(SMALL, backend="triton")
    assert_shapes(model, (2, 6, 13, 11), device="cpu")


def test_auto_uses_torch_ops_for_cpu_tensors():
    model = alexnet_dsl.compile(SMALL, backend="auto")
    assert model.dslc_backend == "auto"
    ref, _ = pair(SMALL)
    model.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 13, 11)
    torch.testing.assert_close(model(x), ref(x))


def test_fused_shapes_of_every_shipped_spec_on_meta():
    """The fused backend's module computes the checker's shapes for every spec (meta: no launches)."""
    from alexnet_dsl.analysis import check_file

    for path in sorted((ROOT / "specs").glob("*.net")):
        analysis = check_file(path)
        sizes = {s: v.ranges[0][0] for s, v in analysis.admissible.items()}
        shape = tuple(2 if i == 0 else sizes.get(d, d) for i, d in enumerate(analysis.network.input_dims))
        assert_shapes(path, shape, backend="triton")


def test_fused_model_compiles_with_torch_compile_in_one_graph():
    """torch.compile(fullgraph=True) of a model with fused layers: the kernel is one opaque node (no graph
    break), Inductor compiles the rest, and forward and parameter gradients are still the torch backend's."""
    ref, fused = pair(SMALL)
    torch._dynamo.reset()
    compiled = torch.compile(fused, fullgraph=True)
    x = torch.randn(3, 6, 13, 11) * 10
    torch.testing.assert_close(compiled(x), ref(x), rtol=1e-5, atol=1e-5)
    ref(x).square().sum().backward()
    compiled(x).square().sum().backward()
    for (name, a), (_, b) in zip(ref.named_parameters(), fused.named_parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-4, msg=name)
