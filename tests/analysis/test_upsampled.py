"""Admissible sizes through upsampling and transposed convolutions: sizes `m * f + c` (E.Scaled), exact
against brute force, and U-Net's answer (multiples of 2 ** depth)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import scaled

from alexnet_dsl.analysis.equations import at_least, divisible, equal
from alexnet_dsl.analysis.intsets import IntSet
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.ir import expr as E


def unet(depth: int, up: str) -> str:
    """A U-Net over [N, 3, H, W]: `depth` poolings, each undone by `up` and joined to its skip by concat."""
    lines = ["e0: conv(4, kernel=3, padding=1)"]
    for i in range(1, depth + 1):
        lines += [f"p{i}: maxpool(kernel=2)", f"e{i}: conv(4, kernel=3, padding=1)"]
    for i in range(depth, 0, -1):
        lines += [f"u{i}: {up}", f"c{i}: concat(e{i - 1}, u{i})", f"d{i}: conv(4, kernel=3, padding=1)"]
    body = "\n".join("    " + line for line in lines)
    return f"network U(x: [N, 3, H, W]) {{\n{body}\n}}\n"


UPS = ["upsample(2)", "upsample(2, mode=bilinear)", "conv_transpose(4, kernel=2, stride=2)"]


@given(st.integers(1, 5), st.sampled_from(UPS))
@settings(max_examples=scaled(20), deadline=None)
def test_a_unet_takes_the_multiples_of_two_to_its_depth(depth, up):
    a = check_text(unet(depth, up))
    assert a.ok, [d.message for d in a.errors]
    for sym in ("H", "W"):
        got = a.admissible[sym]
        assert [x for x in range(1, 200) if got.contains(x)] == [
            x for x in range(1, 200) if x % 2**depth == 0
        ]


def checks_with(text: str, h: int) -> bool:
    return check_text(text.replace("[N, 3, H, 9]", f"[N, 3, {h}, 9]")).ok


layer = st.one_of(
    st.builds(
        lambda k, s, p: f"conv(4, kernel=({k}, 1), stride=({s}, 1), padding=({p}, 0))",
        st.integers(1, 4),
        st.sampled_from([1, 2, 4]),
        st.integers(0, 2),
    ),
    st.builds(
        lambda k, s, c: f"maxpool(kernel=({k}, 1), stride=({s}, 1), ceil={'true' if c else 'false'})",
        st.integers(1, 4),
        st.sampled_from([1, 2, 4]),
        st.booleans(),
    ),
    st.builds(lambda s: f"upsample(({s}, 1))", st.sampled_from([2, 4])),
    st.builds(
        lambda k, s, p, o: (
            f"conv_transpose(4, kernel=({k}, 1), stride=({s}, 1), padding=({p}, 0), output_padding=({min(o, s - 1)}, 0))"
        ),
        st.integers(1, 4),
        st.sampled_from([1, 2, 4]),
        st.integers(0, 2),
        st.integers(0, 3),
    ),
)


@st.composite
def networks(draw):
    """Two branches from the input, each a chain of windows, upsamplings and transposed convolutions,
    joined by `add` (their heights must agree), and maybe an asserted height."""
    one = draw(st.lists(layer, min_size=1, max_size=4))
    two = draw(st.lists(layer, min_size=1, max_size=3))
    lines = [f"a{i}: {t}" for i, t in enumerate(one)]
    lines += [f"b{i}: {t}" + (" from x" if i == 0 else "") for i, t in enumerate(two)]
    lines.append(f"j: add(a{len(one) - 1}, b{len(two) - 1})")
    target = draw(st.one_of(st.none(), st.integers(1, 40)))
    if target is not None:
        lines.append(f"last: relu -> [N, 4, {target}, _]")
    body = "\n".join("    " + line for line in lines)
    return (
        f"network R(x: [N, 3, H, 9]) {{\n    c: conv(4, kernel=1)\n{body.replace('from x', 'from c')}\n}}\n"
    )


@settings(max_examples=scaled(80), deadline=None)
@given(networks())
def test_solver_is_exact_through_upsampling(text):
    """The printed set is exactly the H for which the spec with H written in checks (over 1..80)."""
    a = check_text(text)
    if any(d.code != "E0308" for d in a.errors):  # a form the solver does not follow (E0313)
        assert {d.code for d in a.errors} <= {"E0308", "E0313"}, [d.message for d in a.errors]
        return
    admissible = a.admissible["H"]
    for h in range(1, 80):
        assert checks_with(text, h) == admissible.contains(h), (h, admissible.describe(), text)


@st.composite
def sizes(draw):
    """A scaled size: a chain of floor/ceil steps, multiplied, shifted, maybe through more steps."""
    e: E.Size = E.Chain("H")
    for _ in range(draw(st.integers(0, 2))):
        e = E.step(e, draw(st.integers(-4, 3)), draw(st.integers(1, 3)), draw(st.booleans()))
    mul = draw(st.sampled_from([2, 3, 4, 8]))
    e = E.scaled(e, mul, draw(st.integers(-5, 5)))
    if draw(st.booleans()):  # a window over it whose stride divides the factor, or is divided by it
        den = draw(st.sampled_from([d for d in (1, 2, 4, 8, 16) if d % mul == 0 or mul % d == 0]))
        e = E.step(e, draw(st.integers(-4, 4)), den, draw(st.booleans()))
    return e


@settings(max_examples=scaled(200), deadline=None)
@given(
    sizes(),
    st.one_of(sizes(), st.builds(lambda s: E.step(E.Chain("H"), s, 2), st.integers(-3, 3))),
    st.integers(1, 9),
)
def test_scaled_sizes_solve_as_they_evaluate(f, g, k):
    """Equalities, divisibility and lower bounds of scaled sizes agree with evaluating them."""
    xs = range(1, 300)
    same, div, low = equal(f, g), divisible(f, k), at_least(f, k)
    for got, truth in (
        (same, lambda x: f.at(x) == g.at(x)),
        (div, lambda x: f.at(x) % k == 0),
        (low, lambda x: f.at(x) >= k),
    ):
        if isinstance(got, bool):
            assert all(truth(x) == got for x in xs)
        else:
            assert isinstance(got, IntSet)
            assert [x for x in xs if got.contains(x)] == [x for x in xs if truth(x)]


def test_a_stride_that_does_not_divide_the_factor_is_e0313():
    text = "network B(x: [N, 3, H, W]) {\n    upsample(2)\n    conv(4, kernel=3, stride=3)\n}\n"
    a = check_text(text)
    assert [d.code for d in a.errors] == ["E0313"] and a.errors[0].span.line == 3
    concrete = check_text(text.replace("H, W", "10, 10"))  # numbers: followed exactly
    assert concrete.ok and concrete.output == (concrete.output[0], 4, 6, 6)


def test_chunk_of_channels_that_are_a_sum_or_a_product_is_e0313():
    """C / parts has no form when C is a sum (`concat` of a symbolic C with itself) or a product (a flatten of
    symbolic sizes): one error on the chunk, no internal error, no note besides."""
    for text in (
        "network A(x: [N, C, 8, 8]) {\n    j: concat(x, x)\n    chunk(2, 0)\n}\n",
        "network A(x: [N, 3, H, W]) {\n    conv(4, kernel=1)\n    flatten\n    chunk(2, 0)\n}\n",
    ):
        a = check_text(text)
        assert [(d.code, d.span.line) for d in a.diagnostics] == [("E0313", text.count("\n") - 1)]
