"""The typed syntax the lark Transformer builds: the nodes, their fields and their spans."""

from __future__ import annotations

from alexnet_dsl.frontend import syntax
from alexnet_dsl.frontend.parse import parse
from alexnet_dsl.source import Source, Span

TEXT = """\
block Stage(f, k=3) {
    conv(f, kernel=(k, 5))
}
network Net(img: [N, 3, H, 2.5]) -> [] {
    c1: conv(8, kernel=3) from img -> [N, _, 6, 6]
    relu
    Stage(16, k=1e-3)
}
"""


def _file() -> syntax.File:
    tree, diags = parse(Source("t.net", TEXT))
    assert diags == []
    assert isinstance(tree, syntax.File)
    return tree


def test_network_header():
    (net,) = _file().networks
    assert net.name == syntax.Name("Net", Span(4, 9, 4, 12))
    assert net.input == syntax.Name("img", Span(4, 13, 4, 16))
    assert net.input_shape.span == Span(4, 18, 4, 32)
    assert [(d.text, d.number) for d in net.input_shape.dims] == [
        ("N", False),
        ("3", True),
        ("H", False),
        ("2.5", True),
    ]
    assert net.input_shape.dims[3].span == Span(4, 28, 4, 31)
    # `[]`: a shape with no dimensions, still with its span (lowering reports it)
    assert net.output_shape == syntax.Shape((), Span(4, 37, 4, 39))


def test_layer_line():
    line = _file().networks[0].body[0]
    assert line.name == syntax.Name("c1", Span(5, 5, 5, 7))
    assert line.span == Span(5, 5, 5, 51)
    assert line.call.op == syntax.Name("conv", Span(5, 9, 5, 13))
    positional, keyword = line.call.args
    assert positional == syntax.Arg(None, syntax.Value("int", 8, Span(5, 14, 5, 15), "8"), Span(5, 14, 5, 15))
    assert keyword.key == syntax.Name("kernel", Span(5, 17, 5, 23))
    assert keyword.value == syntax.Value("int", 3, Span(5, 24, 5, 25), "3")
    assert keyword.span == Span(5, 17, 5, 25)
    assert line.source == syntax.Name("img", Span(5, 32, 5, 35))
    assert line.assertion is not None
    assert [d.text for d in line.assertion.dims] == ["N", "_", "6", "6"]
    assert line.assertion.span == Span(5, 39, 5, 51)


def test_bare_call_and_floats():
    bare, call = _file().networks[0].body[1:]
    assert bare == syntax.Line(
        None, syntax.Call(syntax.Name("relu", Span(6, 5, 6, 9)), ()), None, None, Span(6, 5, 6, 9)
    )
    assert call.call.args[1].value == syntax.Value("float", 1e-3, Span(7, 17, 7, 21), "1e-3")


def test_block():
    (block,) = _file().blocks
    assert block.name == syntax.Name("Stage", Span(1, 7, 1, 12))
    f, k = block.params
    assert f == syntax.Param(syntax.Name("f", Span(1, 13, 1, 14)), None)
    assert k.default == syntax.Value("int", 3, Span(1, 18, 1, 19), "3")
    (line,) = block.body
    pair = line.call.args[1].value
    assert pair.kind == "pair"
    assert pair.text == "(k, 5)"
    assert pair.span == Span(2, 20, 2, 26)
    assert pair.value == (
        syntax.Value("name", "k", Span(2, 21, 2, 22), "k"),
        syntax.Value("int", 5, Span(2, 24, 2, 25), "5"),
    )


def test_several_networks_and_no_network():
    tree, _ = parse(Source("t.net", "network A(x: [N, 4]) {\n relu\n}\nnetwork B(x: [N, 4]) {\n relu\n}\n"))
    assert [n.name.text for n in tree.networks] == ["A", "B"]
    assert parse(Source("t.net", "\n"))[0] == syntax.File((), ())


def test_huge_integer_is_clamped():
    tree, _ = parse(Source("t.net", "network A(x: [N, 4]) {\n linear(99999999999999999999)\n}\n"))
    (arg,) = tree.networks[0].body[0].call.args
    assert arg.value.value == syntax.MAX_INT + 1
    assert arg.value.text == "99999999999999999999"


def test_substitute_replaces_block_parameters():
    at, there = Span(1, 1, 1, 2), Span(9, 1, 9, 2)
    k = syntax.Value("name", "k", at, "k")
    pair = syntax.Value("pair", (k, syntax.Value("int", 5, at, "5")), at, "(k, 5)")
    bound = syntax.Value("int", 3, there, "3")
    out = syntax.substitute(pair, {"k": bound})
    assert out.text == "(3, 5)"
    assert out.value[0] is bound  # keeps the span of the call's value
    assert syntax.substitute(k, {}) is k
