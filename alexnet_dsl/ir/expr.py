"""Symbolic sizes: the integer expressions that shapes become when the input has symbols.

Every spatial size of a network with input `[N, 3, H, W]` is a monotone function of one symbol
built from steps `v -> floor((v + offset) / den)` (or ceil). Consecutive steps of the same kind
fold into one, because floor((floor(y / m) + b) / n) = floor((y + b*m) / (m*n)) for integers, so
AlexNet's pool5 height is simply `(H - 35) // 32`. A chain with denominators multiplying to P
satisfies f(x + P) = f(x) + 1 exactly, which is what makes the equations of analysis/equations.py
exact and cheap to solve.

Ceil-mode pooling gives the minimum of two chains; flatten gives products and concat sums, which
only ever meet constants or equality constraints. Upsampling and transposed convolutions multiply a
size: `Scaled` is m * f + c for a chain (or minimum) f, so f(x + P) = f(x) + m; a window over it is
again a chain (or a scaled one) when its stride divides m or m divides its stride, and `Unfollowed`
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

Step = tuple[int, int, bool]  # (offset, den, ceil)


def _apply(v: int, step: Step) -> int:
    offset, den, ceil = step
    return -((-(v + offset)) // den) if ceil else (v + offset) // den


@dataclass(frozen=True, slots=True)
class Chain:
    """`sym` passed through floor/ceil steps; a chain with no step is the symbol itself."""

    sym: str
    steps: tuple[Step, ...] = ()

    def evaluate(self, env: dict[str, int]) -> int:
        v = env[self.sym]
        for step in self.steps:
            v = _apply(v, step)
        return v

    def at(self, x: int) -> int:
        v = x
        for step in self.steps:
            v = _apply(v, step)
        return v

    @property
    def period(self) -> int:
        """P with f(x + P) = f(x) + 1 for every integer x."""
        p = 1
        for _, den, _ in self.steps:
            p *= den
        return p

    def bounds(self) -> tuple[Fraction, Fraction]:
        """(lo, hi) with x/P + lo <= f(x) <= x/P + hi for every x."""
        lo = hi = Fraction(0)
        scale = Fraction(1)
        for offset, den, ceil in self.steps:
            scale /= den
            lo, hi = (lo + offset) / den, (hi + offset) / den
            if ceil:
                hi += 1 - Fraction(1, den)
            else:
                lo -= 1 - Fraction(1, den)
        return lo, hi

    def then(self, offset: int, den: int, ceil: bool) -> Chain:
        """This chain followed by floor((v + offset) / den) (or ceil)."""
        steps = list(self.steps)
        if steps:
            o, d, c = steps[-1]
            if d == 1:
                steps[-1] = (o + offset, den, ceil)
                return Chain(self.sym, tuple(steps))
            if c == ceil or den == 1:
                steps[-1] = (o + offset * d, d * den, c)
                return Chain(self.sym, tuple(steps))
        steps.append((offset, den, ceil))
        return Chain(self.sym, tuple(steps))

    def show(self) -> str:
        text = self.sym
        for i, (offset, den, ceil) in enumerate(self.steps):
            inner = text if i == 0 else f"({text})"
            if offset:
                inner = f"{inner} {'+' if offset > 0 else '-'} {abs(offset)}"
            if den == 1:
                text = inner
            elif ceil:
                text = f"ceil(({inner}) / {den})"
            else:
                text = f"({inner}) // {den}" if offset or i else f"{inner} // {den}"
        return text


@dataclass(frozen=True, slots=True)
class Min:
    """The smaller of chains of one symbol (ceil-mode pooling); all have the same period."""

    chains: tuple[Chain, ...]

    def evaluate(self, env: dict[str, int]) -> int:
        return min(c.evaluate(env) for c in self.chains)

    def at(self, x: int) -> int:
        return min(c.at(x) for c in self.chains)

    @property
    def sym(self) -> str:
        return self.chains[0].sym

    @property
    def period(self) -> int:
        return self.chains[0].period

    def bounds(self) -> tuple[Fraction, Fraction]:
        all_bounds = [c.bounds() for c in self.chains]
        return min(b[0] for b in all_bounds), min(b[1] for b in all_bounds)

    def show(self) -> str:
        return "min(" + ", ".join(c.show() for c in self.chains) + ")"


@dataclass(frozen=True, slots=True)
class Scaled:
    """`mul * inner + const` (mul >= 2): an upsampled or transposed-convolution size; it rises by `mul`
    in every period of `inner`."""

    inner: Chain | Min
    mul: int
    const: int = 0

    def evaluate(self, env: dict[str, int]) -> int:
        return self.mul * self.inner.evaluate(env) + self.const

    def at(self, x: int) -> int:
        return self.mul * self.inner.at(x) + self.const

    @property
    def sym(self) -> str:
        return self.inner.sym

    @property
    def period(self) -> int:
        return self.inner.period

    @property
    def rise(self) -> int:
        """How much it grows in one period."""
        return self.mul

    def bounds(self) -> tuple[Fraction, Fraction]:
        """(lo, hi) with x * mul / P + lo <= f(x) <= x * mul / P + hi."""
        lo, hi = self.inner.bounds()
        return self.mul * lo + self.const, self.mul * hi + self.const

    def show(self) -> str:
        inner = self.inner.show()
        text = f"{self.mul} * {inner if inner.isidentifier() else f'({inner})'}"
        return text if not self.const else f"{text} {'+' if self.const > 0 else '-'} {abs(self.const)}"


class Unfollowed(Exception):
    """Arithmetic the symbolic sizes cannot express (a window whose stride neither divides nor is divided
    by an upsampling factor before it)."""


@dataclass(frozen=True, slots=True)
class Sum:
    terms: tuple[Expr, ...]
    const: int = 0

    def evaluate(self, env: dict[str, int]) -> int:
        return sum(evaluate(t, env) for t in self.terms) + self.const

    def show(self) -> str:
        parts = [show(t) for t in self.terms] + ([str(self.const)] if self.const else [])
        return " + ".join(parts)


@dataclass(frozen=True, slots=True)
class Prod:
    factors: tuple[Expr, ...]
    coef: int = 1

    def evaluate(self, env: dict[str, int]) -> int:
        v = self.coef
        for f in self.factors:
            v *= evaluate(f, env)
        return v

    def show(self) -> str:
        parts = ([str(self.coef)] if self.coef != 1 else []) + [_paren(f) for f in self.factors]
        return " * ".join(parts)


Expr = Chain | Min | Scaled | Sum | Prod
Size = int | Expr  # a dimension: a known size, or an expression in the input's symbols
Univariate = Chain | Min | Scaled


def _paren(e: Size) -> str:
    text = show(e)
    return text if isinstance(e, int) or (isinstance(e, Chain) and not e.steps) else f"({text})"


def show(e: Size) -> str:
    return str(e) if isinstance(e, int) else e.show()


def evaluate(e: Size, env: dict[str, int]) -> int:
    return e if isinstance(e, int) else e.evaluate(env)


def symbols(e: Size) -> set[str]:
    if isinstance(e, int):
        return set()
    if isinstance(e, (Chain, Min, Scaled)):
        return {e.sym}
    parts = e.terms if isinstance(e, Sum) else e.factors
    return set().union(*(symbols(p) for p in parts))


# ---------------------------------------------------------------------------- arithmetic


def step(e: Size, offset: int, den: int, ceil: bool = False) -> Size:
    """floor((e + offset) / den), or ceil."""
    if isinstance(e, int):
        return _apply(e, (offset, den, ceil))
    if isinstance(e, Chain):
        return e.then(offset, den, ceil)
    if isinstance(e, Min):
        return minimum(*(c.then(offset, den, ceil) for c in e.chains))
    if den == 1:
        return add(e, offset)
    if isinstance(e, Scaled):
        return _scaled_step(e, offset, den, ceil)
    raise AssertionError(f"spatial arithmetic on a sum or product: {show(e)}")


def _div(a: int, b: int, ceil: bool) -> int:
    return -(-a // b) if ceil else a // b


def _scaled_step(e: Scaled, offset: int, den: int, ceil: bool) -> Size:
    """floor((m f + t) / den) (or ceil), t = const + offset: with den = m k it is floor((f + floor(t / m)) / k)
    (a step of f); with m = den k it is k f + floor(t / den)."""
    t = e.const + offset
    if den % e.mul == 0:
        return step(e.inner, _div(t, e.mul, ceil), den // e.mul, ceil)
    if e.mul % den == 0:
        return scaled(e.inner, e.mul // den, _div(t, den, ceil))
    raise Unfollowed(
        f"a window of stride {den} over {e.show()}: dslc follows symbolic sizes through a stride that "
        f"divides or is divided by the upsampling factor {e.mul}"
    )


def scaled(e: Size, mul: int, const: int = 0) -> Size:
    """mul * e + const, for a size that is multiplied (upsampling, a transposed convolution)."""
    if isinstance(e, int):
        return mul * e + const
    if isinstance(e, Scaled):
        return scaled(e.inner, e.mul * mul, e.const * mul + const)
    if mul == 1:
        return add(e, const)
    if isinstance(e, (Chain, Min)):
        return Scaled(e, mul, const)
    raise Unfollowed(f"{show(e)} multiplied by {mul}")


def add(e: Size, c: int) -> Size:
    if isinstance(e, int):
        return e + c
    if c == 0:
        return e
    if isinstance(e, (Chain, Min)):
        return step(e, c, 1)
    if isinstance(e, Scaled):
        return Scaled(e.inner, e.mul, e.const + c)
    if isinstance(e, Sum):
        return Sum(e.terms, e.const + c) if e.const + c or len(e.terms) > 1 else e.terms[0]
    return Sum((e,), c)


def plus(a: Size, b: Size) -> Size:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if isinstance(b, int):
        return add(a, b)
    if isinstance(a, int):
        return add(b, a)
    terms = (a.terms if isinstance(a, Sum) else (a,)) + (b.terms if isinstance(b, Sum) else (b,))
    const = (a.const if isinstance(a, Sum) else 0) + (b.const if isinstance(b, Sum) else 0)
    return Sum(terms, const)


def times(a: Size, b: Size) -> Size:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if isinstance(a, int) or isinstance(b, int):
        k, e = (a, b) if isinstance(a, int) else (b, a)
        if k == 1:
            return e
        if isinstance(e, Prod):
            return Prod(e.factors, e.coef * k)
        return Prod((e,), k)
    fa = a.factors if isinstance(a, Prod) else (a,)
    fb = b.factors if isinstance(b, Prod) else (b,)
    ca = a.coef if isinstance(a, Prod) else 1
    cb = b.coef if isinstance(b, Prod) else 1
    return Prod(fa + fb, ca * cb)


def minimum(*parts: Chain | Min | Scaled) -> Size:
    if all(isinstance(p, Scaled) for p in parts):  # the same multiple of one chain, shifted
        inner, muls = {p.inner for p in parts}, {p.mul for p in parts}  # type: ignore[union-attr]
        if len(inner) == 1 and len(muls) == 1:
            return Scaled(inner.pop(), muls.pop(), min(p.const for p in parts))  # type: ignore[union-attr]
    if any(isinstance(p, Scaled) for p in parts):
        raise Unfollowed("the minimum of " + ", ".join(p.show() for p in parts))
    chains = [c for p in parts for c in (p.chains if isinstance(p, Min) else (p,))]
    unique = tuple(dict.fromkeys(chains))
    return unique[0] if len(unique) == 1 else Min(unique)


def same(a: Size, b: Size) -> bool | None:
    """True/False when a == b is decided without knowing the symbols, else None."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if a == b:
        return True
    return None


def python(e: Size, names: dict[str, str]) -> str:
    """Python source computing `e`, each symbol replaced by the expression in `names` (generated code)."""
    if isinstance(e, int):
        return str(e)
    if isinstance(e, Chain):
        text = names[e.sym]
        for offset, den, ceil in e.steps:
            inner = f"{text} {'+' if offset >= 0 else '-'} {abs(offset)}" if offset else text
            if den == 1:
                text = f"({inner})"
            elif ceil:
                text = f"(-(-({inner}) // {den}))"
            else:
                text = f"(({inner}) // {den})"
        return text
    if isinstance(e, Min):
        return "min(" + ", ".join(python(c, names) for c in e.chains) + ")"
    if isinstance(e, Scaled):
        return f"({e.mul} * {python(e.inner, names)}{f' + {e.const}' if e.const > 0 else f' - {-e.const}' if e.const else ''})"
    if isinstance(e, Sum):
        return (
            "(" + " + ".join([python(t, names) for t in e.terms] + ([str(e.const)] if e.const else [])) + ")"
        )
    return (
        "(" + " * ".join(([str(e.coef)] if e.coef != 1 else []) + [python(f, names) for f in e.factors]) + ")"
    )
