"""Fuzzing the admissible-size solver: it always answers, within a bounded amount of work, and its sets are
never wrong.

The cases aim where exact answers are expensive: long strides (periods in the millions), products of
sizes equal to numbers with many divisors or large prime factors, and many symbols coupled by
assertions. Each case must finish within a work budget counted by the solver itself: the per-case time
bound, in steps rather than seconds, so it holds the same on any machine however loaded (the solver stops
at its budget, so a case cannot hang either); where the solver says in a note that a set is a superset,
the set must still hold every size that checks.
"""

from __future__ import annotations

import math
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import scaled
from written_sizes import superset_noted, write_in

from alexnet_dsl.analysis.intsets import MAX_WORK, work_spent
from alexnet_dsl.analysis.pipeline import check_text

PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 9973, 65537, 999983, 2147483647]
LARGEST = 2**31 - 1  # the largest size the language accepts


def bounded_check(text: str):
    """Check `text`, asserting the solver's own count of work stays within its budgets."""
    before = work_spent()
    a = check_text(text)
    constraints = max(1, len(a.infos)) * 8  # at most a few constraints per layer and axis
    assert work_spent() - before <= constraints * MAX_WORK * 4
    return a


# ---------------------------------------------------------------------------- long strides


@st.composite
def long_strides(draw):
    """A chain of convs with prime strides, joined by `add` to one pool whose stride is their product (or a
    random large stride), maybe with an assertion on the join."""
    strides = draw(st.lists(st.sampled_from(PRIMES[:11]), min_size=1, max_size=9))
    lines = [
        f"c{i}: conv(4, kernel=({draw(st.integers(1, 3))}, 1), stride=({s}, 1))"
        for i, s in enumerate(strides)
    ]
    stride = draw(st.one_of(st.just(math.prod(strides)), st.integers(2, LARGEST)))
    kernel = draw(st.integers(1, 5))
    lines.append(
        f"p: maxpool(kernel=({kernel}, 1), stride=({stride}, 1), "
        f"ceil={draw(st.sampled_from(['true', 'false']))}) from x"
    )
    lines.append("q: conv(4, kernel=1) from p")
    target = draw(st.one_of(st.none(), st.integers(1, 4)))
    lines.append(f"s: add(c{len(strides) - 1}, q)" + (f" -> [N, 4, {target}, _]" if target else ""))
    return "network L(x: [N, 3, H, 9]) {\n" + "\n".join("    " + x for x in lines) + "\n}\n", strides, stride


@settings(max_examples=scaled(60), deadline=None)
@given(long_strides(), st.lists(st.integers(1, 10**9), min_size=3, max_size=3))
def test_long_strides(case, probes):
    """Periods of millions are solved from closed forms, not enumerated; the set is right at its ends and at
    random sizes (written into the spec), or a superset where a note says so."""
    text, strides, stride = case
    a = bounded_check(text)
    if any(d.code != "E0308" for d in a.errors):
        return
    h = a.admissible["H"]
    period = math.prod(strides)
    probes += [v + d for lo, hi in h.ranges[:3] for v in (lo, hi or lo + period) for d in (-1, 0, 1)]
    for v in [v for v in probes if 1 <= v <= LARGEST]:  # a larger size cannot be written into the spec
        ok = check_text(write_in(text, {"H": v})).ok
        assert (ok <= h.contains(v)) if superset_noted(a) else ok == h.contains(v), (v, h.describe())


# ---------------------------------------------------------------------------- products


def _number(draw) -> int:
    """A flatten size: a product of small and large primes (many divisors, or a factor trial division cannot
    reach), or a plain random number."""
    factors = draw(st.lists(st.sampled_from(PRIMES), min_size=1, max_size=12))
    while math.prod(factors) > LARGEST:  # the language's largest size
        factors.pop()
    return draw(st.one_of(st.just(math.prod(factors) or 1), st.integers(1, LARGEST)))


@st.composite
def products(draw):
    """flatten over [N, C, H, W] (maybe after a conv or pool) asserted to a number, then linear; with a witness:
    sizes that check when there is no layer before flatten."""
    before = draw(
        st.sampled_from(["", "conv(4, kernel=1, stride=2)", "maxpool(kernel=3, stride=3, ceil=true)"])
    )
    c, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    n = c * h * draw(st.integers(1, 10**5)) if not before and draw(st.booleans()) else _number(draw)
    lines = ([f"b: {before}"] if before else []) + [f"f: flatten -> [N, {n}]", "fc: linear(10)"]
    text = "network P(x: [N, C, H, W]) {\n" + "\n".join("    " + x for x in lines) + "\n}\n"
    witness = {"C": c, "H": h, "W": n // (c * h)} if not before and n % (c * h) == 0 else None
    return text, witness


@settings(max_examples=scaled(60), deadline=None)
@given(products())
def test_products(case):
    """Products of sizes are solved over the divisors actually reachable, within the work budget; sizes that
    check are always in the sets."""
    text, witness = case
    a = bounded_check(text)
    if witness is not None:
        assert check_text(write_in(text, witness)).ok
        assert all(a.admissible[s].contains(v) for s, v in witness.items()), witness


# ---------------------------------------------------------------------------- many coupled symbols


@st.composite
def coupled(draw):
    """The channels and both spatial symbols tied to each other through assertions on layers with long
    strides, and maybe a flatten into a number."""
    syms = ["C", "H", "W", "_"]
    lines = []
    for i in range(draw(st.integers(1, 6))):
        s = draw(st.sampled_from([1, 2, 3, 7, 97, 9973, 65537]))
        x, y = draw(st.sampled_from(syms)), draw(st.sampled_from(syms))
        lines.append(
            f"l{i}: conv(4, kernel={draw(st.integers(1, 4))}, stride=({s}, {draw(st.integers(1, 5))})) "
            f"from x -> [N, 4, {x}, {y}]"
        )
    if draw(st.booleans()):
        lines.append(f"f: flatten from x -> [N, {_number(draw)}]")
    return "network M(x: [N, C, H, W]) {\n" + "\n".join("    " + x for x in lines) + "\n}\n"


@settings(max_examples=scaled(60), deadline=None)
@given(coupled(), st.lists(st.integers(1, 60), min_size=3, max_size=3))
def test_many_coupled_symbols(text, probe):
    """Assertions tie symbols at different rates; the answer comes within the budget, all sets are empty when
    E0308 is reported, and sizes that check (written in) are in every set."""
    a = bounded_check(text)
    if a.network is None or any(d.code != "E0308" for d in a.errors):
        return
    if any(d.code == "E0308" for d in a.errors):
        assert all(v.empty for v in a.admissible.values())
    sizes = dict(zip("CHW", probe))
    if check_text(write_in(text, sizes)).ok:
        assert all(a.admissible[s].contains(v) for s, v in sizes.items()), (sizes, text)


# ---------------------------------------------------------------------------- the reported cases


ONE_MORE_PRIME = """network C(x: [N, 3, H, H]) {
    c1: conv(4, kernel=1, stride=2)
    c2: conv(4, kernel=1, stride=3)
    c3: conv(4, kernel=1, stride=5)
    c4: conv(4, kernel=1, stride=7)
    c5: conv(4, kernel=1, stride=11)
    c6: conv(4, kernel=1, stride=13)
    c7: conv(4, kernel=1, stride=17)
    c8: conv(4, kernel=1, stride=19)
    c9: conv(4, kernel=1, stride=23)
    p: maxpool(kernel=2, stride=223092870, ceil=true) from x
    q: conv(4, kernel=1) from p
    s: add(c9, q)
}
"""


def test_a_period_of_223092870_is_not_enumerated():
    """The period of the join is the product of the strides; enumerating it took gigabytes. With an address
    space of 1 GiB (the interpreter needs a few tens of MiB) the check still answers."""
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
        "from alexnet_dsl.analysis.pipeline import check_text; a = check_text(sys.stdin.read());"
        "print(a.ok, a.admissible['H'].describe())"
    )
    out = subprocess.run([sys.executable, "-c", script], input=ONE_MORE_PRIME, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "1.."]
    assert check_text(write_in(ONE_MORE_PRIME, {"H": 223092871})).ok


def test_flatten_into_a_number_with_1344_divisors():
    """C * H * W == 735134400: every divisor is possible for each symbol; found by splitting the number, not
    by trying every triple of divisors (2.4e9 of them)."""
    before = work_spent()
    a = check_text("network F(x: [N, C, H, W]) {\n    f: flatten -> [N, 735134400]\n    fc: linear(10)\n}\n")
    assert a.ok and work_spent() - before <= 2 * MAX_WORK
    for s in "CHW":
        assert a.admissible[s].count() == 1344 and a.admissible[s].contains(735134400)
        assert not a.admissible[s].contains(19)
