"""Differential tests: the checker against torch, built independently by tests/torch_oracle.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import scaled
from torch_oracle import run_meta

from alexnet_dsl import expr as E
from alexnet_dsl.analysis import check_text
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


# Loose networks: random arguments with no attempt at validity; the checker's verdict must be
# torch's verdict, both ways.
loose_layer = st.one_of(
    st.builds(lambda f, kh, kw, s, p, d, g: f"conv({f}, kernel=({kh}, {kw}), stride={s}, padding={p}, "
                                            f"dilation={d}, groups={g})",
              st.integers(1, 6), st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(0, 3),
              st.integers(1, 3), st.integers(1, 3)),
    st.builds(lambda kind, k, s, p, c: f"{kind}(kernel={k}, stride={s}, padding={p}, ceil={c})",
              st.sampled_from(["maxpool", "avgpool"]), st.integers(1, 6), st.integers(1, 3), st.integers(0, 3),
              st.sampled_from(["true", "false"])),
    st.builds(lambda o: f"adaptive_avgpool({o})", st.integers(1, 5)),
    st.builds(lambda n: f"lrn(size={n}, alpha=1e-4, beta=0.75, k=2)", st.integers(1, 7)),
    st.sampled_from(["relu", "batchnorm", "flatten", "linear(5)", "softmax", "dropout(0.1)"]),
)


@settings(max_examples=scaled(200), deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(1, 12), st.lists(loose_layer, min_size=1, max_size=6))
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
