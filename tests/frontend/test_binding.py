"""Argument binding: one routine for ops and blocks (positional, keywords, defaults, duplicates, unknown
names), and the op table's kinds and ranges."""

from __future__ import annotations

from alexnet_dsl.frontend import syntax
from alexnet_dsl.frontend.binding import bind, bind_block, bind_op, convert
from alexnet_dsl.frontend.parse import parse
from alexnet_dsl.frontend.suggest import Context
from alexnet_dsl.frontend.vocabulary import OPS, Param
from alexnet_dsl.source import Source, Span


def _call(text: str) -> tuple[syntax.Call, Source]:
    """The call on the one line of a network's body."""
    source = Source("t.net", f"network T(x: [N, 3, 32, 32]) {{\n    {text}\n}}\n")
    file, diags = parse(source)
    assert not diags, diags
    return file.networks[0].body[0].call, source


def _op(text: str, env: dict | None = None):
    call, source = _call(text)
    return bind_op(call.op.text, OPS[call.op.text], call, Context(source, env or {}, {}, {"H"}))


def test_positional_then_keywords():
    call, _ = _call("f(1, 2, c=3)")
    b = bind(call.args, ["a", "b"], ["a", "b", "c"], {})
    assert {k: v.text for k, v in b.given.items()} == {"a": "1", "b": "2", "c": "3"}
    assert b.mistakes == []


def test_mistakes_in_argument_order():
    call, _ = _call("f(1, 2, 3, z=4, a=5)")
    b = bind(call.args, ["a", "b"], ["a", "b"], {})
    assert [(m.kind, m.key, m.value.text) for m in b.mistakes] == [
        ("extra", "", "3"),
        ("unknown", "z", "4"),
        ("twice", "a", "5"),
    ]
    assert b.mistakes[2].first is not None and b.mistakes[2].first.text == "1"
    assert {k: v.text for k, v in b.given.items()} == {"a": "1", "b": "2"}


def test_block_parameters_are_substituted():
    call, _ = _call("f(k, (k, 2))")
    seven = syntax.Value("int", 7, Span(9, 9, 9, 10), "7")
    b = bind(call.args, ["a", "b"], ["a", "b"], {"k": seven})
    assert b.given["a"] is seven
    assert b.given["b"].text == "(7, 2)"


def test_op_defaults_and_pairs():
    bound = _op("conv(96, kernel=11, stride=4)")
    assert bound.diagnostics == []
    assert bound.values == {
        "filters": 96,
        "kernel": (11, 11),
        "stride": (4, 4),
        "padding": (0, 0),
        "dilation": (1, 1),
        "groups": 1,
        "bias": True,
    }
    assert [k for k, _ in bound.spans] == ["filters", "kernel", "stride"]
    assert bound.texts == (("filters", "96"), ("kernel", "11"), ("stride", "4"))


def test_op_optional_without_default():
    bound = _op("lrn(5)")
    assert bound.values is not None
    assert bound.values["avg_alpha"] is None
    assert bound.values["alpha"] == 1e-4


def test_op_missing_argument():
    bound = _op("conv(8)")
    assert bound.values is None
    assert [(d.code, d.message) for d in bound.diagnostics] == [("E0103", "`conv` needs `kernel`")]


def test_op_given_twice_points_at_the_first():
    bound = _op("conv(8, kernel=3, filters=4)")
    (d,) = bound.diagnostics
    assert (d.code, d.message, d.span) == ("E0106", "`filters` is given twice", Span(2, 31, 2, 32))
    assert d.related[0].span == Span(2, 10, 2, 11)


def test_op_unknown_argument_does_not_also_report_missing():
    bound = _op("conv(8, kernl=3)")
    assert bound.values is None
    assert [(d.code, d.message) for d in bound.diagnostics] == [("E0102", "`conv` has no argument `kernl`")]


def test_op_other_frameworks_names_are_one_error():
    bound = _op("conv(in_channels=3, out_channels=8, kernel_size=3)")
    assert [(d.code, d.message) for d in bound.diagnostics] == [
        ("E0102", "`conv` has no arguments `in_channels`, `out_channels` and `kernel_size`")
    ]
    assert bound.diagnostics[0].rewrites[0].help == "write `conv(8, kernel=3)`"


def test_op_too_many_positional_reads_pytorch():
    bound = _op("conv(3, 96, 11)")
    (d,) = bound.diagnostics
    assert (d.code, d.label) == ("E0106", "2 too many")
    # both readings are candidates; analysis shows the ones whose rewritten spec checks
    assert [r.help for r in d.rewrites] == [
        "name them: `conv(3, kernel=96, stride=11)`",
        "if this is PyTorch's `nn.Conv2d(3, 96, 11)`: dslc infers `in_channels` from the input, "
        "so write `conv(96, kernel=11)`",
    ]


def test_kinds_and_ranges():
    ctx = Context(Source("t.net", ""), {}, {}, None)
    at = Span(1, 1, 1, 2)
    assert convert("p", Param("float", 0.5, lo=0, hi=1), syntax.Value("int", 1, at, "1"), ctx) == 1.0
    assert convert("k", Param("pair", 1, lo=1), syntax.Value("int", 3, at, "3"), ctx) == (3, 3)
    assert (
        convert("padding", Param("padding", 0, lo=0), syntax.Value("name", "same", at, "same"), ctx) == "same"
    )
    too_big = convert("p", Param("float", 0.5, lo=0, hi=1), syntax.Value("float", 1.5, at, "1.5"), ctx)
    assert (too_big.code, too_big.message) == ("E0105", "`p` must be in [0, 1], got 1.5")
    flag = convert("bias", Param("bool", True), syntax.Value("int", 1, at, "1"), ctx)
    assert (flag.code, flag.rewrites[0].help) == ("E0104", "write `true`")
    name = convert(
        "k", Param("int", 1, lo=1), syntax.Value("name", "H", at, "H"), Context(ctx.source, {}, {}, {"H"})
    )
    assert (name.code, name.message) == ("E0202", "`H` is not a value here")


def _block(header: str) -> syntax.Block:
    file, diags = parse(
        Source("t.net", f"block {header} {{\n    relu\n}}\nnetwork T(x: [N, 4]) {{\n    relu\n}}\n")
    )
    assert not diags
    return file.blocks[0]


def test_block_defaults_and_keywords():
    call, _ = _call("B(8, g=2)")
    env, diags = bind_block(_block("B(f, g=1, h=3)"), call, {})
    assert diags == []
    assert {k: v.text for k, v in env.items()} == {"f": "8", "g": "2", "h": "3"}


def test_block_mistakes():
    call, _ = _call("B(1, 2, f=3, z=4)")
    env, diags = bind_block(_block("B(f)"), call, {})
    assert env is None
    assert [(d.code, d.message) for d in diags] == [
        ("E0106", "block `B` takes 1 argument (`f`)"),
        ("E0106", "`f` is given twice"),
        ("E0102", "block `B` has no parameter `z`"),
    ]
    assert diags[1].related[0].span.col == 7  # the first `f` is the positional 1
    call, _ = _call("B(1, 2, 3)")
    env, diags = bind_block(_block("B(f)"), call, {})
    (d,) = diags  # one mistake, one error: the two values too many, as one span
    assert (d.code, d.message, d.label) == ("E0106", "block `B` takes 1 argument (`f`)", "2 too many")
    assert (d.span.col, d.span.end_col) == (10, 14)  # from `2` to `3`
    call, _ = _call("B()")
    env, diags = bind_block(_block("B(f, g)"), call, {})
    assert [(d.code, d.message) for d in diags] == [
        ("E0103", "block `B` needs `f`"),
        ("E0103", "block `B` needs `g`"),
    ]
