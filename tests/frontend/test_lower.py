"""Lowering: the IR nodes the vocabulary table builds, display names, and the graph of the network."""

from __future__ import annotations

import pytest

from alexnet_dsl import ir
from alexnet_dsl.frontend.lower import lower
from alexnet_dsl.frontend.parse import parse
from alexnet_dsl.frontend.vocabulary import OPS
from alexnet_dsl.source import Source


def _lower(body: str, header: str = "network T(x: [N, 3, 32, 32])", blocks: str = ""):
    source = Source("t.net", f"{blocks}{header} {{\n{body}\n}}\n")
    file, diags = parse(source)
    assert not diags, diags
    return lower(file, source)


@pytest.mark.parametrize(
    ("call", "node"),
    [
        ("conv(8, kernel=3, padding=same)", ir.Conv(8, (3, 3), padding="same")),
        ("maxpool(kernel=3, stride=2)", ir.Pool("max", (3, 3), (2, 2))),
        ("avgpool(kernel=2)", ir.Pool("avg", (2, 2), (2, 2))),
        ("adaptive_avgpool((6, 7))", ir.AdaptiveAvgPool((6, 7))),
        ("lrn(5, beta=0.5)", ir.LRN(5, 1e-4, 0.5, 1.0)),
        ("batchnorm(eps=0.001)", ir.BatchNorm(0.001, 0.1)),
        ("dropout(0.25)", ir.Dropout(0.25)),
        ("flatten", ir.Flatten()),
        ("tanh", ir.Activation("tanh")),
    ],
)
def test_the_table_builds_each_node(call, node):
    net, diags = _lower(f"    {call}")
    assert diags == []
    assert net.layers[0].op == node


def test_every_op_of_the_table_is_lowered_and_named_back():
    """`ir.op_name` has its own table of names (ir cannot import the vocabulary): each op is in it."""
    for op, spec in OPS.items():
        required = {
            "filters": "4",
            "kernel": "2",
            "output": "2",
            "size": "3",
            "features": "4",
            "groups": "2",
            "scale": "2",
            "p": "0.5",
            "parts": "2",
            "index": "1",
        }
        args = ", ".join(f"{k}={required[k]}" for k, p in spec.params.items() if p.required)
        body = "    flatten\n" if op == "linear" else ""
        if spec.variadic_refs:
            body, args = "    a: relu\n    b: relu\n", "a, b"
        net, diags = _lower(f"{body}    {op}({args})" if args else f"{body}    {op}")
        assert diags == [], op
        assert ir.op_name(net.layers[-1].op) == op


def test_avg_alpha_is_the_divided_alpha():
    net, _ = _lower("    lrn(5, avg_alpha=5e-4)")
    assert net.layers[0].op.alpha == pytest.approx(1e-4)
    assert net.layers[0].op.torch_alpha == pytest.approx(5e-4)
    assert ir.paper_alpha(ir.LRN(4, alpha=2e-4).torch_alpha, 4) == pytest.approx(2e-4)


def test_op_rules_across_arguments():
    _, diags = _lower("    maxpool(kernel=3, padding=2)")
    assert [(d.code, d.message) for d in diags] == [
        ("E0105", "`padding` must be at most half the kernel: 2 > 3 / 2")
    ]
    _, diags = _lower("    lrn(5, alpha=1e-4, avg_alpha=5e-4)")
    assert [d.code for d in diags] == ["E0106"]


def test_a_name_written_twice_keeps_its_display_name():
    net, diags = _lower("    a: relu\n    a: tanh\n    b: add(a, x)")
    assert [d.code for d in diags] == ["E0201"]
    first, second, join = net.layers
    assert first.name != second.name  # unique: the second one is still checked
    assert (first.display_name, second.display_name) == ("a", "a")
    assert join.inputs == ("a", "x")
    assert [net.display_name(n) for n in (second.name, "x")] == ["a", "x"]


def test_block_instances_are_dotted():
    blocks = "block Stage(f) {\n    c: conv(f, kernel=3)\n    relu\n}\n"
    net, diags = _lower("    s1: Stage(4)\n    Stage(8)", blocks=blocks)
    assert diags == []
    assert [la.name for la in net.layers] == ["s1.c", "s1.relu1", "Stage1.c", "Stage1.relu1"]
    assert net.layers[2].inputs == ("s1.relu1",)
    assert net.layers[0].instance[0][:2] == ("s1", "Stage")


def test_graph_order_and_output():
    net, _ = _lower("    a: relu from b\n    b: tanh from x\n    c: sigmoid from x")
    assert net.order == (1, 0, 2)
    assert [la.name for la in net.ordered] == ["b", "a", "c"]
    assert net.output_layer == "c"  # the last line, wherever it falls in the order
    assert ir.output_layer((), "x") == "x"
