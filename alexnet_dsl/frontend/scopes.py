"""Names: the scopes of the network and of each block instance, and the references between layers.

A line names its layer (or is named automatically, `conv1`, `relu2`) in its scope; it reads the line
before it, a layer `from` a name, or the layers a join names. References are resolved once every scope
is lowered, because a block instance's layers are named inside it (`stage1.conv`) and read its caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Related, error
from alexnet_dsl.frontend.suggest import rename
from alexnet_dsl.frontend.syntax import Line, Value
from alexnet_dsl.frontend.vocabulary import RESERVED
from alexnet_dsl.source import Span

Instance = tuple[str, str, Span]  # (instance, block, call span)


@dataclass
class Scope:
    """The body of the network or of one block instance."""

    sid: int
    names: dict[str, Span | None]  # a written name -> where it is defined (None: automatic or the input)
    env: dict[str, Value]  # the block parameters bound at the call
    prefix: str  # the instance's full name and a dot; "" for the network
    shown: str  # the prefix as messages show it
    instance: tuple[Instance, ...]  # outermost first
    # Inside an instance whose name is written twice (an error), every layer is shown as the instance.
    as_instance: bool = False

    def display_name(self, local: LocalName) -> str:
        """How messages show the layer `local` of this scope."""
        return self.shown if self.as_instance else self.shown + local.shown

    def shown_under_another_name(self, local: LocalName) -> bool:
        """Whether the layer `local` is shown under another name than its own (see `as_instance`)."""
        return self.as_instance or local.key != local.shown


@dataclass(frozen=True, slots=True)
class Ref:
    """A name as a line reads it in scope `sid`, resolved at the end (`References.resolve`)."""

    sid: int
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class LocalName:
    """A line's name in its scope: `key` is unique there, `shown` as written."""

    key: str
    shown: str


def name_lines(lines: tuple[Line, ...], scope: Scope, diags: list[Diagnostic]) -> list[LocalName]:
    """The name of each line of a scope: its own, or the op's name and a number not taken (`relu2`).

    A name written twice is an error; the second layer is still checked, under a key of its own that
    no written name can be (its display name stays the written one)."""
    explicit = {*scope.names, *(line.name.text for line in lines if line.name is not None)}
    counters: dict[str, int] = {}
    out: list[LocalName] = []
    for line in lines:
        if line.name is None:
            base = line.call.op.text
            n = counters.get(base, 0) + 1
            while f"{base}{n}" in explicit or f"{base}{n}" in scope.names:
                n += 1
            counters[base] = n
            scope.names[f"{base}{n}"] = None
            out.append(LocalName(f"{base}{n}", f"{base}{n}"))
            continue
        name, span = line.name.text, line.name.span
        if name in RESERVED or (scope.prefix and name == "input"):
            diags.append(error("E0204", f"`{name}` is reserved and cannot name a layer", span))
        if name not in scope.names:
            scope.names[name] = span
            out.append(LocalName(name, name))
            continue
        first = scope.names[name]
        diags.append(
            error(
                "E0201",
                f"`{name}` is already defined",
                span,
                label="defined again here",
                related=(Related(f"`{name}` first defined here", first),) if first else (),
                helps=("give each layer its own name",),
            )
        )
        out.append(LocalName(f"{name}'{len(out)}", name))
    return out


class References:
    """What each name of each scope stands for: a layer's full name, or another reference (a block's
    `input` is its caller's previous line)."""

    def __init__(self) -> None:
        self.targets: dict[tuple[int, str], str | Ref] = {}
        self.scopes: dict[int, Scope] = {}

    def scope(
        self,
        prefix: str,
        shown: str,
        env: dict[str, Value],
        instance: tuple[Instance, ...],
        as_instance: bool = False,
    ) -> Scope:
        """A new scope, empty."""
        scope = Scope(len(self.scopes) + 1, {}, env, prefix, shown, instance, as_instance)
        self.scopes[scope.sid] = scope
        return scope

    def bind(self, scope: Scope, key: str, target: str | Ref) -> None:
        self.targets[(scope.sid, key)] = target

    def resolve(
        self,
        layers: list[ir.Layer],
        inputs: list[tuple[str | Ref, ...]],
        instance_assertions: list[tuple[str | Ref, ir.Assertion]],
        diags: list[Diagnostic],
    ) -> list[ir.Layer]:
        """The layers with their inputs as full layer names (an unknown name is an error, reported once
        per place), and each block call's `-> [...]` on the last layer of its instance."""
        reported: set[Ref] = set()

        def follow(ref: str | Ref) -> str | None:
            seen = 0
            while isinstance(ref, Ref):
                target = self.targets.get((ref.sid, ref.name))
                if target is None:
                    if ref not in reported:
                        reported.add(ref)
                        scope = self.scopes[ref.sid]
                        options = list(scope.names)  # (its written names)
                        param = ref.name in scope.env  # a block parameter: a value, never a layer
                        helps = (
                            (
                                f"`{ref.name}` is a parameter of the block: a block's parameters are "
                                "values; a block reads one layer, `input`, so join the other layer "
                                "outside the block",
                            )
                            if param
                            else ()
                        )
                        diags.append(
                            error(
                                "E0202",
                                f"no layer named `{ref.name}`",
                                ref.span,
                                helps=helps,
                                rewrites=() if param else rename(ref.name, ref.span, options),
                            )
                        )
                    return None
                ref = target
                seen += 1
                if seen > 1_000_000:  # cannot happen: references only point to earlier scopes
                    return None
            return ref

        out = []
        for layer, raw in zip(layers, inputs):
            names = [follow(r) for r in raw]
            out.append(replace(layer, inputs=tuple(n for n in names if n is not None)))
        by_name = {layer.name: i for i, layer in enumerate(out)}
        for last, assertion in instance_assertions:
            # a block call's `-> [...]` asserts the shape of the instance's last layer
            target = follow(last)
            if target in by_name:
                i = by_name[target]
                out[i] = replace(out[i], assertions=(*out[i].assertions, assertion))
        return out
