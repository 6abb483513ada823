"""Differential tests: the checker against torch, built independently by tests/torch_oracle.py."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import scaled
from torch_oracle import activation, run_meta

import alexnet_dsl
from alexnet_dsl import ir
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.ir import expr as E
from alexnet_dsl.testing import broken_networks, networks


@settings(max_examples=scaled(60), deadline=None)
@given(networks())
def test_random_networks_shapes_and_params_match_torch(net):
    a = check_text(net.text)
    assert a.ok
    shapes, params = run_meta(a.network, net.input_shape)
    for info in a.infos:
        assert tuple(E.evaluate(d, {"N": 2}) for d in info.shape) == shapes[info.layer.name], info.layer.name
    assert a.params == params


def evaluate(net: ir.Network, output: str, x: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
    """The value of layer `output`, computed from the IR with torch.nn.functional and the parameters in
    `state` (keys `LAYER.weight`, ...), in eval mode. Each layer is evaluated when a reader asks for it,
    so no topological order (and nothing of alexnet_dsl's compiler) is involved."""
    layers = {layer.name: layer for layer in net.layers}
    values: dict[str, torch.Tensor] = {net.input_name: x}

    def value(name: str) -> torch.Tensor:
        if name not in values:
            values[name] = run(layers[name], [value(n) for n in layers[name].inputs])
        return values[name]

    def run(layer: ir.Layer, xs: list[torch.Tensor]) -> torch.Tensor:
        op, x = layer.op, xs[0]
        p = {key.split(".")[-1]: v for key, v in state.items() if key.rsplit(".", 1)[0] == layer.name}
        if isinstance(op, ir.Conv):
            return F.conv2d(x, p["weight"], p.get("bias"), op.stride, op.padding, op.dilation, op.groups)
        if isinstance(op, ir.ConvTranspose):
            return F.conv_transpose2d(
                x,
                p["weight"],
                p.get("bias"),
                op.stride,
                op.padding,
                op.output_padding,
                op.groups,
                op.dilation,
            )
        if isinstance(op, ir.Upsample):
            size = (x.shape[2] * op.scale[0], x.shape[3] * op.scale[1])
            corners = op.align_corners if op.mode == "bilinear" else None
            return F.interpolate(x, size=size, mode=op.mode, align_corners=corners)
        if isinstance(op, ir.Scale):  # the parameter is the layer itself (`name`, not `name.weight`)
            return x * state[layer.name]
        if isinstance(op, ir.Chunk):
            size = x.shape[1] // op.parts
            return x[:, op.index * size : (op.index + 1) * size]
        if isinstance(op, ir.StochasticDepth):
            return x
        if isinstance(op, ir.Pool) and op.kind == "max":
            return F.max_pool2d(x, op.kernel, op.stride, op.padding, ceil_mode=op.ceil)
        if isinstance(op, ir.Pool):
            return F.avg_pool2d(
                x, op.kernel, op.stride, op.padding, ceil_mode=op.ceil, count_include_pad=op.count_include_pad
            )
        if isinstance(op, ir.AdaptiveAvgPool):
            return F.adaptive_avg_pool2d(x, op.output)
        if isinstance(op, ir.LayerNorm):  # over the channels: [N, C] as it is, [N, C, H, W] channels last
            last = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
            y = F.layer_norm(last, (x.shape[1],), p["weight"], p["bias"], op.eps)
            return y.permute(0, 3, 1, 2) if x.dim() == 4 else y
        if isinstance(op, ir.ChannelShuffle):
            return torch.channel_shuffle(x, op.groups)
        if isinstance(op, ir.GlobalPool):
            return (torch.mean if op.kind == "avg" else torch.amax)(x, (2, 3), keepdim=op.keepdims)
        if isinstance(op, ir.LRN):  # the paper's alpha is not divided by the size; PyTorch's is
            return F.local_response_norm(x, op.size, op.alpha * op.size, op.beta, op.k)
        if isinstance(op, ir.BatchNorm):
            return F.batch_norm(
                x, p["running_mean"], p["running_var"], p["weight"], p["bias"], False, 0.0, op.eps
            )
        if isinstance(op, ir.Dropout):
            return x
        if isinstance(op, ir.Flatten):
            return x.flatten(1)
        if isinstance(op, ir.Linear):
            return F.linear(x, p["weight"], p.get("bias"))
        if isinstance(op, ir.Activation):
            return activation(op)(x)
        if isinstance(op, ir.Add):
            return torch.stack(xs).sum(0)
        if isinstance(op, ir.Mul):
            return torch.stack(torch.broadcast_tensors(*xs)).prod(0)
        if isinstance(op, ir.Concat):
            return torch.cat(xs, dim=1)
        raise AssertionError(f"no reference for {op}")

    return value(output)


@settings(max_examples=scaled(60), deadline=None)
@given(networks(), st.integers(0, 2**31 - 1))
def test_compiled_module_returns_the_checked_output_layer(net, seed):
    """Specs in any line order, with side branches: the compiled module returns the value of the
    layer the checker checked as the output (the last line), evaluated independently from the IR."""
    a = check_text(net.text)
    assert a.ok and a.network is not None
    assert a.network.output_layer == net.output  # the generator's own notion of the output: the last line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W0404 for the side branches
        model = alexnet_dsl.compile(net.text, backend="torch", memory_budget=None).eval()
    gen = torch.Generator().manual_seed(seed)
    state = {
        k: torch.rand(v.shape, generator=gen, dtype=torch.float64) * 2 - 1 if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    for k in state:
        if k.endswith("running_var"):
            state[k] = state[k].abs() + 0.5
    x = torch.randn(net.input_shape, generator=gen, dtype=torch.float64)
    want = evaluate(a.network, net.output, x, state)
    assert (
        tuple(want.shape[1:])
        == net.shapes[net.output]
        == tuple(E.evaluate(d, {"N": 2}) for d in a.output[1:])
    )
    model = model.double()
    model.load_state_dict(state)
    with torch.no_grad():
        got = model(x)
        want32 = evaluate(
            a.network,
            net.output,
            x.float(),
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()},
        )
    # Both sides compute in float64; they may differ only by rounding (summation orders, channels-last
    # algorithms). The bound: what float32 arithmetic itself gets wrong on the same data (PyTorch's own
    # error, at least one float32 rounding of the largest output), far above any float64 rounding, far
    # below what another layer's value would differ by.
    scale = want.abs().max().item()
    tol = max((want32.double() - want).abs().max().item(), torch.finfo(torch.float32).eps * scale)
    assert got.shape == want.shape, (net.text, got.shape, want.shape)
    assert (got - want).abs().max().item() <= tol, net.text


# Loose networks: random arguments with no attempt at validity; the checker's verdict must be
# torch's verdict, both ways.
loose_layer = st.one_of(
    st.builds(
        lambda f, kh, kw, s, p, d, g: (
            f"conv({f}, kernel=({kh}, {kw}), stride={s}, padding={p}, dilation={d}, groups={g})"
        ),
        st.integers(1, 6),
        st.integers(1, 7),
        st.integers(1, 7),
        st.integers(1, 3),
        st.integers(0, 3),
        st.integers(1, 3),
        st.integers(1, 3),
    ),
    st.builds(
        lambda kind, k, s, p, c: f"{kind}(kernel={k}, stride={s}, padding={p}, ceil={c})",
        st.sampled_from(["maxpool", "avgpool"]),
        st.integers(1, 6),
        st.integers(1, 3),
        st.integers(0, 3),
        st.sampled_from(["true", "false"]),
    ),
    st.builds(lambda o: f"adaptive_avgpool({o})", st.integers(1, 5)),
    st.builds(lambda n: f"lrn(size={n}, alpha=1e-4, beta=0.75, k=2)", st.integers(1, 7)),
    st.sampled_from(["relu", "batchnorm", "flatten", "linear(5)", "softmax", "dropout(0.1)"]),
)


@settings(max_examples=scaled(200), deadline=None)
@given(
    st.integers(1, 4), st.integers(1, 12), st.integers(1, 12), st.lists(loose_layer, min_size=1, max_size=6)
)
def test_checker_verdict_is_torchs_verdict(c, h, w, layers):
    text = f"network Loose(x: [N, {c}, {h}, {w}]) {{\n" + "\n".join(f"    {x}" for x in layers) + "\n}\n"
    a = check_text(text)
    if a.network is None or any(d.code.startswith("E01") for d in a.errors):
        return  # an argument the language rejects outright (e.g. padding over half a pool): no torch layer
    try:
        shapes, _ = run_meta(a.network, (2, c, h, w))
        torch_ok = True
    except (RuntimeError, ValueError, IndexError) as e:  # IndexError: pooling a 2-D tensor on meta
        torch_ok, error = False, e
    assert a.ok == torch_ok, (text, [d.message for d in a.errors], None if torch_ok else str(error))
    if torch_ok:
        for info in a.infos:
            assert tuple(E.evaluate(d, {"N": 2}) for d in info.shape) == shapes[info.layer.name]


SHAPE_MISTAKES = ("groups", "kernel", "linear_rank", "join")


@settings(max_examples=scaled(80), deadline=None)
@given(broken_networks())
def test_broken_networks_are_reported_on_their_line(broken):
    a = check_text(broken.text)
    assert [(d.span.line, d.code) for d in a.errors] == [(broken.line, broken.code)], broken.text


@settings(max_examples=scaled(40), deadline=None)
@given(broken_networks(mistakes=SHAPE_MISTAKES))
def test_torch_fails_where_the_checker_reports_a_shape_error(broken):
    a = check_text(broken.text)
    bad_layer = next(i.layer.name for i in a.infos if i.layer.span.line == broken.line)
    with pytest.raises((RuntimeError, ValueError)) as info:
        run_meta(a.network, (2, *check_text(broken.valid_text).network.input_dims[1:]))
    assert info.value is not None and bad_layer
