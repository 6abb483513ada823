"""A compiled module's `forward`, read back through its source map and run a statement at a time.

codegen writes `forward` as the input check (and the input's layout), one line per layer and the return, and
maps each layer's line to its layer (`codegen.Generated.layer_lines`, attached to compiled modules as
`dslc_layer_lines`). `testing.assert_shapes` runs those lines exactly as emitted, in the generated module's
namespace: what it checks is what `forward` runs, whatever the backend fused and whatever names codegen
renamed (`_F.relu` in a network named `F`).
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alexnet_dsl.backend.build import attached

_DEF = re.compile(r"    def forward\(self, (\w+): ")
_RETURN = "        return "


@dataclass(frozen=True)
class Statement:
    """A line of `forward` that computes a layer: `x = self.conv1(image)`."""

    line: int  # 1-based, in the module's source
    layer: str  # the layer it computes (a fused group's: the fused layer, named after its conv)
    text: str  # the statement as emitted, without its shape comment
    target: str  # the variable it assigns (`_` for a value nothing reads)


@dataclass(frozen=True)
class Forward:
    """A generated `forward` in parts: what runs before the layers, their statements, what it returns."""

    arg: str  # forward's parameter
    prologue: str  # the input check (and the input's layout), dedented
    statements: tuple[Statement, ...]
    returned: str  # the variable it returns


def read_forward(source: str, layer_lines: dict[int, str]) -> Forward:
    """`forward` of a generated module's `source`, from its source map (1-based line -> layer)."""
    lines = source.split("\n")
    cls = max(i for i, line in enumerate(lines) if line.startswith("class "))  # the network's: the last
    start, m = next((i, m) for i in range(cls, len(lines)) if (m := _DEF.match(lines[i])))  # 0-based
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(_RETURN))
    first = min(layer_lines, default=end + 1)  # 1-based, as the map counts
    assert sorted(layer_lines) == list(range(first, end + 1)), (
        "the source map names every line of forward from the first layer's to the return"
    )
    statements = []
    for number, layer in sorted(layer_lines.items()):
        text = lines[number - 1].split("  #", 1)[0].strip()  # a statement has no `#` of its own
        statements.append(Statement(number, layer, text, text.split(" = ", 1)[0]))
    return Forward(
        arg=m.group(1),
        prologue=textwrap.dedent("\n".join(lines[start + 1 : first - 1])),
        statements=tuple(statements),
        returned=lines[end].removeprefix(_RETURN),
    )


class StatementFailed(Exception):
    """A statement of `forward` raised (the error is the `__cause__`)."""

    def __init__(self, statement: Statement) -> None:
        super().__init__(f"line {statement.line} (`{statement.layer}`): {statement.text}")
        self.statement = statement


def run_forward(model: Any, x: Any, forward: Forward | None = None) -> Iterator[tuple[Statement, Any]]:
    """Run `model.forward(x)` a statement at a time, exactly as emitted, in the generated module's namespace;
    yield each layer's statement and the value it assigned. `forward` defaults to the model's own
    (`dslc_source` and `dslc_layer_lines`, as `alexnet_dsl.compile` attaches them).

    The input check runs first, raising ValueError for an input the network does not accept; a layer's
    statement that raises ends the run with StatementFailed, from its error. Run it under `torch.no_grad()`
    unless gradients are wanted.
    """
    if forward is None:
        source, layer_lines = attached(model, "source"), attached(model, "layer_lines")
        if source is None or layer_lines is None:
            raise TypeError("run_forward needs a module made by alexnet_dsl.compile, or its `forward`")
        forward = read_forward(source, layer_lines)
    namespace = vars(sys.modules[type(model).__module__])
    env: dict[str, Any] = {"self": model, forward.arg: x}
    exec(forward.prologue, namespace, env)
    for statement in forward.statements:
        try:
            exec(statement.text, namespace, env)
        except Exception as e:
            raise StatementFailed(statement) from e
        yield statement, env[statement.target]
