"""The typed syntax the lark Transformer builds: the nodes, their fields and their spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from alexnet_dsl.frontend import syntax
from alexnet_dsl.frontend.parse import LineJoiner, build_lark, parse
from alexnet_dsl.source import Source, Span

ROOT = Path(__file__).parents[2]

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
    file, diags = parse(Source("t.net", TEXT))
    assert diags == []
    assert isinstance(file, syntax.File)
    return file


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
    assert line.call.span == Span(5, 9, 5, 26)
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
        None,
        syntax.Call(syntax.Name("relu", Span(6, 5, 6, 9)), (), Span(6, 5, 6, 9)),
        None,
        None,
        Span(6, 5, 6, 9),
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
    file, _ = parse(Source("t.net", "network A(x: [N, 4]) {\n relu\n}\nnetwork B(x: [N, 4]) {\n relu\n}\n"))
    assert [n.name.text for n in file.networks] == ["A", "B"]
    assert parse(Source("t.net", "\n"))[0] == syntax.File((), ())


def test_huge_integer_is_clamped():
    file, _ = parse(Source("t.net", "network A(x: [N, 4]) {\n linear(99999999999999999999)\n}\n"))
    (arg,) = file.networks[0].body[0].call.args
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


# Brackets on other lines than their contents, trailing commas, empty brackets, comments inside a call.
AWKWARD = """\
block B( f ,
    k = ( 3 ,
 5 ) , ) {
    conv( f , kernel = k , )   -> [
        N , _ , ]
}
network Net(x: [ N, 3, 8, 8 ]) -> [ ] {
    a :   conv(
        8,  # the width
        kernel=( 1,
            1 )
    )   from x
    f()
    B(8)
}
"""
RULES = ("layer", "call", "positional", "keyword", "pair", "shape")


def _spans_of_syntax(file: syntax.File) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {rule: [] for rule in RULES}

    def value(v: syntax.Value | None) -> None:
        if v is not None and v.kind == "pair":
            out["pair"].append(v.span)

    def lines(body: tuple[syntax.Line, ...]) -> None:
        for line in body:
            out["layer"].append(line.span)
            out["call"].append(line.call.span)
            for arg in line.call.args:
                out["positional" if arg.key is None else "keyword"].append(arg.span)
                value(arg.value)
            if line.assertion is not None:
                out["shape"].append(line.assertion.span)

    for net in file.networks:
        out["shape"] += [s.span for s in (net.input_shape, net.output_shape) if s is not None]
        lines(net.body)
    for block in file.blocks:
        for param in block.params:
            value(param.default)
        lines(block.body)
    return {rule: sorted(spans, key=_key) for rule, spans in out.items()}


def _key(span: Span) -> tuple[int, int, int, int]:
    return (span.line, span.col, span.end_line, span.end_col)


def _spans_of_lark_tree(text: str) -> dict[str, list[Span]]:
    """The same rules' positions as lark's `propagate_positions` computes them on a tree of the file."""
    tree = build_lark(LineJoiner()).parse(text)
    out: dict[str, list[Span]] = {rule: [] for rule in RULES}
    for node in tree.iter_subtrees():
        if node.data in out:
            m = node.meta
            out[node.data].append(Span(m.line, m.column, m.end_line, m.end_column))
    return {rule: sorted(spans, key=_key) for rule, spans in out.items()}


CORPUS = {
    "TEXT": TEXT,
    "AWKWARD": AWKWARD,
    **{p.name: p.read_text() for p in sorted((ROOT / "specs").glob("*.net"))},
}


@pytest.mark.parametrize("name", CORPUS)
def test_spans_are_those_lark_would_propagate(name):
    """The Transformer runs inside the parser, without lark's positions: its spans match them."""
    file, diags = parse(Source(name, CORPUS[name]))
    assert diags == [] and file is not None
    assert _spans_of_syntax(file) == _spans_of_lark_tree(CORPUS[name])
