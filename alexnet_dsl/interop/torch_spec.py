"""The lines of an imported spec: the layers and block calls of `torch_blocks`, named and written.

    layers and blocks -> each scope's lines (the network's, each block's body) -> names -> text

A layer is named after the module it calls, relative to its scope (`features.0` -> `features_0` at
the top, `layer1.0.conv1` -> `conv1` in a block), or, for functions, after the graph node when
another line refers to it; a line reads the one above it unless it says `from NAME`, and a block's
body reads `input`. At the top, convolutions, pools and flatten assert their traced shapes, and so
does the last call of a stage (`layer1_2: bottleneck(256, width=64) -> [N, 256, 56, 56]`); a block's
body asserts nothing, since its shapes differ from call to call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from alexnet_dsl.frontend.vocabulary import RESERVED
from alexnet_dsl.interop.torch_blocks import (
    Instance,
    Layer,
    flat,
    name_blocks,
    recover,
    snake_case,
    unique,
    valid_name,
    with_params,
)


@dataclass
class Spec:
    """A spec's text without its header: the blocks' definitions, the network's lines (unindented), and
    the module path of every layer with weights under its compiled name (`layer1_0.conv1`)."""

    blocks: list[str]
    lines: list[str]
    modules: dict[str, str]
    loads: dict[str, str]  # layer -> how its weights load, where not as a module's state_dict


def dims(shape: Sequence[int]) -> str:
    """A shape as the spec writes it, the batch as `N`: `[N, 64, 56, 56]`."""
    return "[" + ", ".join(["N", *(str(d) for d in shape[1:])]) + "]"


def spec(layers: list[Layer], first: str, input_name: str, blocks: bool = True) -> Spec:
    """The spec of `layers` (the network's input is the node `first`, named `input_name`): with a block
    for every module repeated with equal bodies, or all flat."""
    roots, found = recover(layers) if blocks else (list(layers), [])
    top = _lines(roots, "", {})
    taken: set[str] = set()
    names = _names(top, first, input_name, taken, top=True)
    bodies = []
    for block in found:
        template = block.instances[0]
        body = _lines(template.items, template.box.path + ".", block.slots)
        local = _names(body, template.source, "input", {*RESERVED, *block.params}, top=False)
        block.local = [local.get(line.node) for line in body]
        taken.update(local.values())
        bodies.append((block, body, local, template.source))
    name_blocks(found, taken)
    texts = []
    for block, body, local, source in bodies:
        lines = "\n".join(f"    {line}" for line in _write(body, local, source, top=False))
        texts.append(f"block {block.name}({', '.join(block.params)}) {{\n{lines}\n}}")
    modules: dict[str, str] = {}
    loads: dict[str, str] = {}
    _modules(top, names, "", modules, loads)
    return Spec(texts, _write(top, names, first, top=True), modules, loads)


@dataclass
class _Line:
    node: str  # what it stands for: the layer's node, or the instance's last
    inputs: list[str]
    item: Layer | Instance
    op: str  # for a call, the block's name is written later
    path: str | None  # relative to the scope
    args: dict[str, str] = field(default_factory=dict)  # a call's


def _lines(items: list[Layer | Instance], prefix: str, slots: dict[tuple[int, str], str]) -> list[_Line]:
    out = []
    for i, item in enumerate(flat(items)):
        own = {arg: p for (j, arg), p in slots.items() if j == i}
        path = item.path if isinstance(item, Layer) else item.box.path
        rel = path[len(prefix) :] if path is not None and path.startswith(prefix) else path
        if isinstance(item, Layer):
            out.append(_Line(item.node, item.inputs, item, with_params(item.op, own), rel))
        else:
            out.append(_Line(item.last.node, [item.source], item, "", rel, {**item.args, **own}))
    return out


def _names(lines: list[_Line], first: str, first_name: str, taken: set[str], top: bool) -> dict[str, str]:
    """Node -> name in a scope: its input, then module paths, then nodes that other lines refer to; the
    language names the others (`relu3`). At the top every module's layer is named (as a flat import
    names it); in a block's body those with weights, calls and what is referred to."""
    names = {first: unique(first_name, taken)}
    referenced: set[str] = set()
    previous = first
    for line in lines:
        joined = isinstance(line.item, Layer) and line.item.join
        referenced.update(line.inputs if joined else line.inputs[0:1] if line.inputs[0] != previous else ())
        previous = line.node
    counters: dict[str, int] = {}
    for line in lines:
        call = isinstance(line.item, Instance)
        weights = call or (isinstance(line.item, Layer) and line.item.weights)
        if line.path is not None and (top or weights or line.node in referenced):
            candidate = line.path.replace(".", "_")
        elif line.node in referenced and isinstance(line.item, Layer) and line.item.name:
            candidate = line.item.name  # `part0` for a chunk, rather than its node's `getitem_4`
        elif line.node in referenced:
            candidate = line.node if top else re.sub(r"_\d+$", "", line.node)
        else:
            continue
        if not valid_name(candidate):  # `0` in an nn.Sequential
            if not weights and line.node not in referenced:
                continue
            op = snake_case(line.item.box.cls) if isinstance(line.item, Instance) else line.op.split("(")[0]
            counters[op] = counters.get(op, 0) + 1
            candidate = f"{op}{counters[op]}"
        names[line.node] = unique(candidate, taken)
    return names


def _call(line: _Line) -> str:
    block = line.item.block  # type: ignore[union-attr]
    values = [line.args[p] if i == 0 else f"{p}={line.args[p]}" for i, p in enumerate(block.params)]
    return f"{block.name}({', '.join(values)})" if values else block.name


def _write(lines: list[_Line], names: dict[str, str], first: str, top: bool) -> list[str]:
    """The scope's lines; at the top, layers assert their shapes and so does a stage's last call."""
    out, previous = [], first
    for i, line in enumerate(lines):
        head = f"{names[line.node]}: " if line.node in names else ""
        item = line.item
        if isinstance(item, Layer) and item.join:
            body = f"{line.op}({', '.join(names[n] for n in line.inputs)})"
        else:
            op = _call(line) if isinstance(item, Instance) else line.op
            body = op + (f" from {names[line.inputs[0]]}" if line.inputs[0] != previous else "")
        shape = item.last.shape if isinstance(item, Instance) else item.shape
        if isinstance(item, Instance):
            after = lines[i + 1].item if i + 1 < len(lines) else None
            shown = (
                not isinstance(after, Instance)
                or after.box.path.rpartition(".")[0] != item.box.path.rpartition(".")[0]
            )
        else:
            shown = item.assert_shape
        out.append(f"{head}{body}" + (f" -> {dims(shape)}" if top and shown and shape else ""))
        previous = line.node
    return out


def _modules(
    lines: list[_Line], names: dict[str, str], prefix: str, out: dict[str, str], loads: dict[str, str]
) -> None:
    for line in lines:
        item = line.item
        if isinstance(item, Instance):
            block = item.block
            inner = _lines(item.items, item.box.path + ".", {})
            local = {ln.node: n for ln, n in zip(inner, block.local) if n is not None}  # type: ignore[union-attr]
            _modules(inner, local, f"{prefix}{names[line.node]}.", out, loads)
        elif item.weights and item.path is not None:
            out[prefix + names[line.node]] = item.path
            if item.load != "module":
                loads[prefix + names[line.node]] = item.load
