"""The fusion pass (backend/fuse.py): which chains become one `FusedConv` layer, and which stay apart."""

from __future__ import annotations

import pytest

from alexnet_dsl import ir
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.backend.codegen import generate
from alexnet_dsl.backend.fuse import FUSABLE, fuse, fused_groups
from alexnet_dsl.kernels.reference import ACTIVATIONS


def fused(body: str) -> ir.Network:
    analysis = check_text(f"network T(x: [N, 3, 8, 8]) {{\n{body}\n}}\n")
    assert analysis.ok, analysis.diagnostics
    return fuse(analysis.network)


def layers(net: ir.Network) -> list[tuple[str, tuple[str, ...] | str]]:
    """(name, the names a fused layer replaces, or the op's name) of each layer."""
    return [
        (la.name, la.op.parts if isinstance(la.op, ir.FusedConv) else ir.op_name(la.op)) for la in net.layers
    ]


def test_the_fusable_activations_are_the_kernels():
    assert set(ACTIVATIONS) - {"identity"} == FUSABLE


@pytest.mark.parametrize(
    ("call", "kind", "param"),
    [(kind, kind, None) for kind in sorted(FUSABLE - {"leaky_relu", "elu"})]
    + [
        ("leaky_relu(0.2)", "leaky_relu", 0.2),
        ("elu(alpha=0.5)", "elu", 0.5),
        ("gelu(approximate=none)", "gelu", None),
    ],
)
def test_conv_and_each_activation_fuse(call: str, kind: str, param: float | None):
    net = fused(f"    c: conv(4, kernel=3)\n    a: {call}\n    flatten")
    assert layers(net) == [("c", ("c", "a")), ("flatten1", "flatten")]
    op = net.layers[0].op
    assert op.activation.kind == kind and op.batchnorm is None and op.lrn is None
    assert [v for _, v in op.activation.params if not isinstance(v, str)] == (
        [] if param is None else [param]
    )
    assert net.layers[1].inputs == ("c",)


@pytest.mark.parametrize("call", ["gelu(approximate=tanh)", "softmax", "identity"])
def test_activations_the_kernel_lacks_do_not_fuse(call: str):
    net = fused(f"    c: conv(4, kernel=3)\n    a: {call}\n    flatten")
    assert [name for name, _ in layers(net)] == ["c", "a", "flatten1"]
    assert not isinstance(net.layers[0].op, ir.FusedConv)


def test_lrn_fuses_only_after_conv_and_relu():
    net = fused(
        "    c1: conv(4, kernel=3)\n    r1: relu\n    n1: lrn(size=3)\n"
        "    c2: conv(4, kernel=3)\n    s2: silu\n    n2: lrn(size=3)\n"
        "    c3: conv(4, kernel=1)\n    b3: batchnorm\n    r3: relu\n    n3: lrn(size=3)"
    )
    assert layers(net) == [
        ("c1", ("c1", "r1", "n1")),
        ("c2", ("c2", "s2")),
        ("n2", "lrn"),
        ("c3", ("c3", "b3", "r3")),
        ("n3", "lrn"),
    ]
    assert net.layers[2].inputs == ("c2",) and net.layers[4].inputs == ("c3",)
    assert ir.op_name(net.layers[0].op) == "conv+relu+lrn"
    assert ir.op_name(net.layers[3].op) == "conv+batchnorm+relu"


def test_conv_batchnorm_and_activation_fuse_the_batchnorm_keeping_its_name():
    net = fused(
        "    c: conv(4, kernel=3, bias=false)\n    bn: batchnorm(eps=1e-3)\n    h: hardswish\n    flatten"
    )
    op = net.layers[0].op
    assert layers(net)[0] == ("c", ("c", "bn", "h"))
    assert op.batchnorm == ir.BatchNorm(eps=1e-3) and op.activation == ir.Activation("hardswish")
    analysis = check_text(
        "network T(x: [N, 3, 8, 8]) {\n    c: conv(4, kernel=3)\n    bn: batchnorm\n    relu\n}\n"
    )
    groups = fused_groups(analysis.network)  # `dslc summary`'s column
    assert groups == dict.fromkeys(["c", "bn", "relu1"], "c+bn+relu1")


def test_the_output_may_end_a_chain():
    """The network's output may be a chain's last link (the fused layer then is the output); an inner link
    never is (`only_reader`), so a value the network returns is never fused away (test_compile.py checks
    the generated module)."""
    net = fused("    c: conv(4, kernel=3)\n    s: sigmoid from x\n    bn: batchnorm from c")
    assert layers(net) == [("c", ("c", "bn")), ("s", "sigmoid")] and net.output_layer == "c"


def test_a_link_with_two_readers_ends_the_chain():
    net = fused(
        "    c: conv(4, kernel=3)\n    bn: batchnorm\n    r: relu\n    s: sigmoid from bn\n    add(r, s)"
    )
    assert layers(net)[:2] == [("c", ("c", "bn")), ("r", "relu")]  # bn is read twice: the relu stays apart
    assert net.layers[1].inputs == ("c",) and net.layers[2].inputs == ("c",)
    net = fused("    c: conv(4, kernel=3)\n    bn: batchnorm\n    s: sigmoid from c\n    add(bn, s)")
    assert not any(isinstance(la.op, ir.FusedConv) for la in net.layers)  # the conv is read twice


def test_uneven_same_padding_does_not_fuse():
    net = fused("    c: conv(4, kernel=2, padding=same)\n    bn: batchnorm\n    relu")
    assert not any(isinstance(la.op, ir.FusedConv) for la in net.layers)


def test_generated_calls_name_the_activation_and_the_batchnorm():
    text = (
        "network T(x: [N, 3, 8, 8]) {\n    c1: conv(4, kernel=3)\n    bn1: batchnorm\n    leaky_relu(0.2)\n"
        "    c2: conv(4, kernel=3)\n    bn2: batchnorm\n    c3: conv(4, kernel=1)\n    relu\n    lrn(size=3)\n}\n"
    )
    source = generate(check_text(text), backend="auto")
    assert "x = _fused_conv(x, self.c1, ('leaky_relu', 0.2), bn=self.bn1)" in source
    assert "x = _fused_conv(x, self.c2, None, bn=self.bn2)" in source
    assert "x = _fused_conv(x, self.c3, 'relu', lrn=(3, 0.0001, 0.75, 1.0))" in source
    assert "self.bn1 = nn.BatchNorm2d(4)" in source and "self.bn2 = nn.BatchNorm2d(4)" in source
    assert "_fused_conv" not in generate(
        check_text(text), backend="torch"
    )  # the torch backend runs it as written
