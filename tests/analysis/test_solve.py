"""Admissible input sizes: the numbers in REFERENCE.md, and exactness against brute force."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from profiles import scaled
from written_sizes import superset_noted, write_in

from alexnet_dsl.analysis.bivariate import coupled_equal, joint_equalities, periodic_projection
from alexnet_dsl.analysis.equations import canonical, divisible, equal
from alexnet_dsl.analysis.intsets import EMPTY, IntSet
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.ir import expr as E
from alexnet_dsl.tools.tables import summary_text

ALEXNET = (Path(__file__).parents[2] / "specs" / "alexnet.net").read_text()


def symbolic(text: str, keep: tuple[str, ...] = ("pool5",), ceil: bool = False) -> str:
    """AlexNet over [N, 3, H, W] with only the assertions of the named layers."""
    out = []
    for line in text.replace("[N, 3, 227, 227]", "[N, 3, H, W]").splitlines():
        name = line.strip().split(":")[0]
        if "->" in line and "network" not in line and name not in keep:
            line = line.split("->")[0]
        if ceil and "maxpool" in line:
            line = line.replace("stride=2)", "stride=2, ceil=true)")
        out.append(line)
    return "\n".join(out)


def ranges(text: str) -> dict[str, list[list[int | None]]]:
    a = check_text(text)
    assert a.ok, [d.message for d in a.errors]
    return {k: v.to_json() for k, v in a.admissible.items()}


def test_alexnet_pool5_only():
    assert ranges(symbolic(ALEXNET)) == {"H": [[227, 258]], "W": [[227, 258]]}


def test_alexnet_conv1_and_pool5():
    assert ranges(symbolic(ALEXNET, keep=("conv1", "pool5"))) == {"H": [[227, 230]], "W": [[227, 230]]}


def test_alexnet_without_assertions_smallest_input_is_67():
    text = symbolic(ALEXNET, keep=()).replace("-> [N, 1000] {", "{")
    assert ranges(text) == {"H": [[67, None]], "W": [[67, None]]}


def test_caffe_ceil_pooling_gives_199_to_230():
    assert ranges(symbolic(ALEXNET, ceil=True)) == {"H": [[199, 230]], "W": [[199, 230]]}


def test_torchvision_padding_gives_223_to_254():
    text = (Path(__file__).parents[2] / "specs" / "alexnet_torchvision.net").read_text()
    text = text.replace("[N, 3, 224, 224]", "[N, 3, H, W]").replace("-> [N, 64, 55, 55]", "")
    text = re.sub(r"-> \[N, (64|192), \d+, \d+\]", "", text)
    assert ranges(text) == {"H": [[223, 254]], "W": [[223, 254]]}


def test_exact_division_at_every_layer_is_3_mod_32():
    """The paper network divides exactly at every layer only for inputs = 3 (mod 32)."""
    text = symbolic(ALEXNET, keep=()).replace("-> [N, 1000] {", "{")
    exact = []
    for h in range(60, 300):
        a = check_text(text.replace("[N, 3, H, W]", f"[N, 3, {h}, {h}]"))
        if a.ok and not any(d.code == "W0401" for d in a.diagnostics):
            exact.append(h)
    assert exact == [h for h in range(60, 300) if h % 32 == 3 and h >= 67]


def test_coupled_symbols_through_flatten():
    text = """network A(x: [N, 3, H, W]) {
        conv1: conv(96, kernel=11, stride=4)
        pool5: maxpool(kernel=3, stride=2)
        pool6: maxpool(kernel=3, stride=2)
        flatten -> [N, 2400]
    }"""
    a = check_text(text)
    assert a.ok
    # 96 * h * w = 2400: (h, w) in (1, 25), (5, 5), (25, 1) with h = (H - 19) // 16
    assert a.admissible["H"].to_json() == [[35, 50], [99, 114], [419, 434]]
    assert any(d.code == "N0501" and "coupled" in d.message for d in a.diagnostics)


def test_intset_periodic_intersection():
    evens = IntSet(((1, None),), 2, frozenset({0}))
    threes = IntSet(((1, None),), 3, frozenset({0}))
    both = evens.intersect(threes)
    assert both.mod == 6 and both.residues == frozenset({0})
    assert both.intersect(IntSet.between(1, 20)).to_json() == [[6, 6], [12, 12], [18, 18]]


# ---------------------------------------------------------------------------- brute force

layer = st.one_of(
    st.builds(
        lambda k, s, p: f"conv(4, kernel={k}, stride={s}, padding={min(p, k // 2)})",
        st.integers(1, 5),
        st.integers(1, 3),
        st.integers(0, 2),
    ),
    st.builds(
        lambda k, s, c: f"maxpool(kernel={k}, stride={s}, ceil={'true' if c else 'false'})",
        st.integers(1, 4),
        st.integers(1, 3),
        st.booleans(),
    ),
    st.builds(
        lambda k, s, p: f"avgpool(kernel={k}, stride={s}, padding={min(p, k // 2)}, ceil=true)",
        st.integers(2, 4),
        st.integers(1, 3),
        st.integers(0, 2),
    ),
    st.just("relu"),
)


@st.composite
def networks(draw):
    """A chain of layers over [N, 3, H, 9], a branch joined with `add`, and an assertion."""
    body = draw(st.lists(layer, min_size=1, max_size=5))
    lines = [f"l{i}: {b}" for i, b in enumerate(body)]
    if draw(st.booleans()):  # a second branch from the input that must match the first
        other = draw(st.lists(layer, min_size=1, max_size=3))
        lines += [f"m{i}: {b}" + (" from x" if i == 0 else "") for i, b in enumerate(other)]
        lines.append(f"join: add(l{len(body) - 1}, m{len(other) - 1})")
        lines.append("conv(4, kernel=1)")  # channels: the branches may differ before a 1x1 conv
        if "conv" not in " ".join(other) or "conv" not in " ".join(body):
            lines = lines[: len(body)]  # channel counts could differ: keep the chain only
    target = draw(st.one_of(st.none(), st.integers(1, 30)))  # often more than the layers can give: E0308
    if target is not None:
        lines.append(f"last: relu -> [N, 4, {target}, _]")
    return "network R(x: [N, 3, H, 9]) {\n" + "\n".join("    " + s for s in lines) + "\n}\n"


@settings(max_examples=scaled(80), deadline=None)
@given(networks())
def test_solver_is_exact(text):
    """The printed set is exactly the H for which the spec with H written in checks; empty, and only then,
    when E0308 says no size works (a failed assertion, or branches whose strides never agree)."""
    a = check_text(text)
    if any(d.code != "E0308" for d in a.errors):  # a width or channel problem independent of H
        return
    admissible = a.admissible.get("H")
    assert admissible is not None
    assert admissible.empty == any(d.code == "E0308" for d in a.errors), admissible.describe()
    for h in range(1, 100):
        concrete = check_text(text.replace("[N, 3, H, 9]", f"[N, 3, {h}, 9]"))
        assert concrete.ok == admissible.contains(h), (h, admissible.describe())


# ---------------------------------------------------------------------------- two symbols


@st.composite
def chains(draw, sym: str):
    """A size of one symbol after 0..3 conv/pool steps: floor or ceil, a ceil-mode pool's min."""
    e = E.Chain(sym)
    for _ in range(draw(st.integers(0, 3))):
        offset, den = draw(st.integers(-6, 4)), draw(st.integers(1, 3))
        if draw(st.booleans()) and isinstance(e, E.Chain):  # ceil-mode pooling: min of two chains
            e = E.minimum(e.then(offset, den, True), e.then(offset - 1, den, False))
        else:
            e = E.step(e, offset, den, draw(st.booleans()))
    return e


domains = st.lists(st.tuples(st.integers(1, 150), st.integers(0, 40)), min_size=1, max_size=3).map(
    lambda spans: IntSet.of_values([v for lo, n in spans for v in range(lo, lo + n + 1)])
)


@settings(max_examples=scaled(150), deadline=None)
@given(chains("H"), chains("W"), domains, domains)
def test_two_symbol_equality_projections_are_exact(f, g, h_domain, w_domain):
    """f(H) == g(W) over finite domains: H keeps exactly the values with some W, and W likewise."""
    got = coupled_equal(f, g, {"H": h_domain, "W": w_domain})
    assert got is not None
    hs = [h for lo, hi in h_domain.ranges for h in range(lo, hi + 1)]
    ws = [w for lo, hi in w_domain.ranges for w in range(lo, hi + 1)]
    pairs = [(h, w) for h in hs for w in ws if f.at(h) == g.at(w)]
    assert got["H"] == IntSet.of_values([h for h, _ in pairs]), (E.show(f), E.show(g))
    assert got["W"] == IntSet.of_values([w for _, w in pairs]), (E.show(f), E.show(g))


@settings(max_examples=scaled(100), deadline=None)
@given(st.lists(st.tuples(chains("H"), chains("W")), min_size=1, max_size=3), domains, domains)
def test_joint_equalities_are_exact(pairs, h_domain, w_domain):
    """All f_i(H) == g_i(W) at once, over finite domains: exactly the projections of the common solutions."""
    got = joint_equalities(pairs, {"H": h_domain, "W": w_domain})
    assert got is not None
    hs = [h for lo, hi in h_domain.ranges for h in range(lo, hi + 1)]
    ws = [w for lo, hi in w_domain.ranges for w in range(lo, hi + 1)]
    solutions = [(h, w) for h in hs for w in ws if all(f.at(h) == g.at(w) for f, g in pairs)]
    assert got["H"] == IntSet.of_values([h for h, _ in solutions])
    assert got["W"] == IntSet.of_values([w for _, w in solutions])


@settings(max_examples=scaled(100), deadline=None)
@given(st.lists(st.tuples(chains("H"), chains("W")), min_size=2, max_size=3))
def test_joint_equalities_over_unbounded_sets(pairs):
    """Constraints tying W to H at different rates have finitely many solutions; with unbounded sets the
    projections are found exactly (checked by brute force far past the bound the solver derives)."""
    got = joint_equalities(pairs, {"H": IntSet.at_least(1), "W": IntSet.at_least(1)})
    rates = {Fraction(g.period, f.period) for f, g in pairs}
    if len(rates) == 1:
        assert got is None  # solutions may go on forever: left to the caller, which says so
        return
    assert got is not None
    bounded = [hi for _, hi in got["H"].ranges + got["W"].ranges]
    assert None not in bounded
    h_max = 3 * max([hi for _, hi in got["H"].ranges], default=0) + 80
    w_max = int(4 * h_max * max(rates)) + 120
    assume(h_max * w_max <= 400_000)
    w_of = {}
    for w in range(1, w_max + 1):
        w_of.setdefault(tuple(g.at(w) for _, g in pairs), []).append(w)
    solutions = [(h, w) for h in range(1, h_max + 1) for w in w_of.get(tuple(f.at(h) for f, _ in pairs), [])]
    assert got["H"] == IntSet.of_values([h for h, _ in solutions])
    assert got["W"] == IntSet.of_values([w for _, w in solutions])


def bind(text: str, h: int, w: int) -> str:
    """The spec with H and W replaced by sizes everywhere (assertions name them too)."""
    return re.sub(r"\bW\b", str(w), re.sub(r"\bH\b", str(h), text))


def brute_force(text: str, hs: range, ws: range) -> set[tuple[int, int]]:
    return {(h, w) for h in hs for w in ws if check_text(bind(text, h, w)).ok}


def test_an_assertion_couples_width_to_height():
    """(W - 1) // 2 is asserted to be H, and a later pool fixes H // 2 == 5: H in 10..11, W in 21..24."""
    text = """network T(x: [N, 3, H, W]) {
        c: conv(8, kernel=3, stride=2) -> [N, 8, _, H]
        p: maxpool(kernel=2)           -> [N, 8, _, 5]
    }"""
    a = check_text(text)
    assert a.ok
    assert a.admissible["H"].to_json() == [[10, 11]] and a.admissible["W"].to_json() == [[21, 24]]
    assert any(d.code == "N0501" and "coupled" in d.message for d in a.diagnostics)
    concrete = brute_force(text, range(1, 30), range(1, 60))
    assert {h for h, _ in concrete} == {10, 11} and {w for _, w in concrete} == set(range(21, 25))


def test_several_couplings_between_two_symbols_are_solved_jointly():
    """W // 2 == H and ceil(W / 2) == H: each alone allows any W, together only even W. Unbounded, they tie W to H
    at the same rate, so the solutions repeat and the projections are periodic; with H bounded by a third
    constraint the pair is solved by enumeration. Both exact, with no note that the sets may be too large."""
    text = """network T(x: [N, 3, H, W]) {
        a: maxpool(kernel=(1, 2)) -> [N, 3, _, H]
        b: maxpool(kernel=(1, 1), stride=(1, 2)) from x -> [N, 3, _, H]
    }"""
    loose = check_text(text)
    assert loose.ok
    assert (3, 7) not in brute_force(text, range(1, 6), range(1, 12))
    assert (
        not loose.admissible["W"].contains(7) and loose.admissible["W"].describe("W") == "2.. with W % 2 == 0"
    )
    assert loose.admissible["H"].to_json() == [[1, None]]
    assert not any("superset" in " ".join(d.notes) for d in loose.diagnostics)

    bounded = text.replace(
        "    }", "    c: maxpool(kernel=(3, 1), stride=(3, 1)) from x -> [N, 3, 1, _]\n    }"
    )
    truth = brute_force(bounded, range(1, 30), range(1, 60))
    assert truth == {(3, 6), (4, 8), (5, 10)}
    a = check_text(bounded)
    assert a.ok
    assert a.admissible["H"].to_json() == [[3, 5]]
    assert a.admissible["W"].to_json() == [[6, 6], [8, 8], [10, 10]]
    assert not any("superset" in " ".join(d.notes) for d in a.diagnostics)


@settings(max_examples=scaled(150), deadline=None)
@given(st.lists(st.tuples(chains("H"), chains("W")), min_size=2, max_size=3))
def test_same_rate_equalities_have_periodic_projections(pairs):
    """Constraints that all tie W to H at the same rate have infinitely many solutions, repeating with a period;
    the projections over unbounded sets agree with brute force (H up to 150, W far enough to hold every
    solution's partner), or the solver says it cannot tell (None: the caller notes a superset)."""
    assume(len({Fraction(g.period, f.period) for f, g in pairs}) == 1)
    rate = Fraction(pairs[0][1].period, pairs[0][0].period)
    domains = {"H": IntSet.at_least(1), "W": IntSet.at_least(1)}
    got_h = periodic_projection(pairs, domains)
    got_w = periodic_projection([(g, f) for f, g in pairs], {"H": domains["W"], "W": domains["H"]})
    w_of: dict[tuple[int, ...], list[int]] = {}
    for w in range(1, int(300 * rate) + 200):
        w_of.setdefault(tuple(g.at(w) for _, g in pairs), []).append(w)
    h_max = int(150 / rate) + 200  # w is about rate * h: every solution with w <= 150 has h below this
    if got_h is not None:
        truth = [h for h in range(1, 151) if tuple(f.at(h) for f, _ in pairs) in w_of]
        assert [h for h in range(1, 151) if got_h.contains(h)] == truth
    if got_w is not None:
        truth = {w for h in range(1, h_max) for w in w_of.get(tuple(f.at(h) for f, _ in pairs), [])}
        assert [w for w in range(1, 151) if got_w.contains(w)] == [w for w in range(1, 151) if w in truth]


# ---------------------------------------------------------------------------- the printed set is what checks


def checks_with(text: str, sym: str, value: int) -> bool:
    """Whether the spec checks with one symbol written in (the others stay symbolic)."""
    return check_text(write_in(text, {sym: value})).ok


def test_no_size_works_prints_an_empty_set():
    """Branches of strides 2 and 3 agree only for H in 1, 2, 4, and the join is asserted 16x16: E0308, and the
    set printed in the summary and the JSON is empty, not the values admissible before the join."""
    text = """network A(x: [N, 3, H, H]) {
        a: conv(8, kernel=1, stride=2)
        b: conv(8, kernel=1, stride=3) from x
        s: add(a, b) -> [N, 8, 16, 16]
    }"""
    a = check_text(text)
    assert {d.code for d in a.errors} == {"E0308"}
    assert a.admissible == {"H": EMPTY}
    assert a.to_json()["admissible"] == {"H": []}
    assert "H: no size works" in summary_text(a)
    assert not any(checks_with(text, "H", h) for h in range(1, 100))


def test_contradictory_ties_give_empty_sets_not_a_66_digit_bound():
    """W == H // 3 and H == (W + 2) // 7 have no solution. Narrowing each by the other alone grows their lower
    bounds 21-fold a round; solved jointly the pair is bounded at once, and both sets are empty."""
    text = """network B(x: [N, 3, H, W]) {
        d: conv(4, kernel=3, stride=3) -> [N, 4, W, _]
        e: conv(4, kernel=5, stride=7) from x -> [N, 4, _, H]
    }"""
    a = check_text(text)
    assert {d.code for d in a.errors} == {"E0308"}
    assert a.admissible == {"H": EMPTY, "W": EMPTY}
    assert all(len(str(n)) < 6 for d in a.diagnostics for line in d.notes for n in re.findall(r"\d+", line))
    assert not any(checks_with(text, "H", h) for h in range(1, 100))
    assert not any(checks_with(text, "W", w) for w in range(1, 100))


def test_one_error_per_symbol_left_without_a_value():
    """Once H has no value (a says 10..11, b says 40..41), the later constraints on H are not reported again:
    with no H left, c's cannot be judged."""
    text = """network A(x: [N, 3, H, 9]) {
        a: maxpool(kernel=2) -> [N, 3, 5, _]
        b: maxpool(kernel=2, stride=8) from x -> [N, 3, 5, _]
        c: maxpool(kernel=2, stride=4) from x -> [N, 3, 5, _]
    }"""
    a = check_text(text)
    assert [d.code for d in a.errors] == ["E0308"] and a.errors[0].span.line == 3
    assert a.admissible == {"H": EMPTY}


# ties: assertions that name a symbol on another's axis (the channels' too), or sizes that no layer can give
tie = st.one_of(
    st.none(), st.tuples(*[st.one_of(st.just("_"), st.sampled_from(["H", "W", "C"]), st.integers(1, 9))] * 2)
)
axis_layer = st.one_of(
    st.builds(
        lambda kh, kw, sh, sw: f"conv(4, kernel=({kh}, {kw}), stride=({sh}, {sw}))",
        st.integers(1, 4),
        st.integers(1, 4),
        st.integers(1, 4),
        st.integers(1, 4),
    ),
    st.builds(
        lambda k, s, c: f"maxpool(kernel={k}, stride={s}, ceil={'true' if c else 'false'})",
        st.integers(1, 3),
        st.integers(1, 3),
        st.booleans(),
    ),
    st.just("relu"),
)


@st.composite
def tied_networks(draw):
    """Layers over [N, C, H, W] (or [N, 3, H, W]) with different strides per axis, assertions tying the symbols
    to each other (three can form a cycle) or to sizes, and a second branch with its own strides joined by `add`."""
    channels = draw(st.sampled_from(["C", "3"]))
    lines = ["c0: conv(4, kernel=1)"]
    for prefix, source, count in (("l", None, draw(st.integers(1, 4))), ("m", "c0", draw(st.integers(0, 3)))):
        for i in range(count):
            asserted = draw(tie)
            lines.append(
                f"{prefix}{i}: {draw(axis_layer)}"
                + (f" from {source}" if i == 0 and source else "")
                + (f" -> [N, 4, {asserted[0]}, {asserted[1]}]" if asserted else "")
            )
        if prefix == "m" and count:
            lines.append(f"j: add(l{len([x for x in lines if x.startswith('l')]) - 1}, m{count - 1})")
    text = "\n".join("    " + x for x in lines)
    return f"network T(x: [N, {channels}, H, W]) {{\n{text}\n}}\n".replace("C", channels)


@settings(max_examples=scaled(40), deadline=None)
@given(tied_networks())
def test_printed_sets_are_the_sizes_that_check(text):
    """Each symbol's printed set is exactly the values with which the spec (that value written in, the other
    symbol left free) checks, over 1..40; all sets are empty exactly when E0308 is reported; where a note
    says a set is a superset, it holds at least those values."""
    a = check_text(text)
    if any(d.code != "E0308" for d in a.errors):  # a problem independent of the sizes
        return
    e0308 = any(d.code == "E0308" for d in a.errors)
    superset = superset_noted(a)
    for sym in a.admissible:
        printed = a.admissible[sym]
        assert printed.empty == e0308, (sym, printed.describe())
        truth = {v for v in range(1, 41) if checks_with(text, sym, v)}
        got = {v for v in range(1, 41) if printed.contains(v)}
        assert truth <= got if superset else truth == got, (sym, printed.describe())


# ---------------------------------------------------------------------------- one floor step


@settings(max_examples=scaled(200), deadline=None)
@given(chains("H"), chains("H"), st.integers(1, 7))
def test_closed_forms_match_evaluation(f, g, k):
    """Every size is one floor step (x + a) // P + b; equalities and divisibility solved from that closed
    form (without enumerating a period) agree with evaluating the chains."""
    p, a, b = canonical(f)
    assert all(f.at(x) == (x + a) // p + b for x in range(-60, 200))
    same, div = equal(f, g), divisible(f, k)
    assert isinstance(same, IntSet) and isinstance(div, IntSet)
    assert [x for x in range(1, 400) if same.contains(x)] == [x for x in range(1, 400) if f.at(x) == g.at(x)]
    assert [x for x in range(1, 400) if div.contains(x)] == [x for x in range(1, 400) if f.at(x) % k == 0]
