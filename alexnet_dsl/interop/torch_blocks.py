"""Block recovery for `dslc import`: repeated PyTorch modules as `block` definitions, one call line each.

    layers (one per traced node, with the modules it ran in) -> the tree of module instances
    -> instances of one class with equal bodies share a block -> (`torch_spec`) names and lines

torch.fx records for each node the modules whose `forward` was running (`nn_module_stack`), so the
layers of one instance (`layer1.0`, a `Bottleneck`) are consecutive. An instance that reads one tensor
and is read only through its last layer can be a call. Instances of one class whose bodies are equal
but for some argument values share a block, those values (`filters`, `stride`) its parameters; an
instance whose body differs (a stage's first, with a `downsample` shortcut) gets a block of its own.
Blocks are found innermost first, so a repeated module made of repeated modules is a block calling
blocks. An instance without a twin stays flat, and so do nn.Sequential, ModuleList and ModuleDict
themselves: they are containers, their layers read as their parent's.

DenseNet's layers read all the features before them: each `_DenseLayer` starts with `torch.cat` of the
block's input and the features so far. A concatenation of an earlier one's operands and more is that
concatenation and the rest, and a join of an instance's input with its output, right after it, is read
as the instance's last layer: so each dense layer reads one tensor and ends in `concat(input, conv2)`.
The spec computes the same values: a concatenation copies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from alexnet_dsl.frontend.vocabulary import OPS, RESERVED

# instances that differ in more argument values than this stay flat: a call would not read better
MAX_PARAMS = 6


@dataclass(frozen=True)
class Container:
    """A module a node ran in: its path, its class's name, and whether it is a plain container
    (nn.Sequential, ModuleList, ModuleDict), which is never a block."""

    path: str
    cls: str
    plain: bool = False


@dataclass
class Layer:
    """One line of the flat spec, before it has a name: one traced node."""

    node: str  # the fx node's name
    op: str  # `conv(96, kernel=11, stride=4)`
    inputs: list[str]  # fx node names (or the placeholder's)
    shape: tuple[int, ...] | None = None
    join: bool = False  # add/concat: inputs are written as arguments
    path: str | None = None  # the module's path, for call_module nodes
    weights: bool = False  # the module has parameters or buffers
    load: str = "module"  # how its weights load (torch_patterns.LOADS)
    name: str | None = None  # its name when a line refers to it, where the node's is not telling (`part0`)
    assert_shape: bool = False
    stack: tuple[Container, ...] = ()  # the modules it ran in, outermost first, its own excluded


def valid_name(text: str) -> bool:
    """An ASCII identifier the language accepts as a name, without `_` in front (which codegen mangles)."""
    return text.isascii() and text.isidentifier() and not text.startswith("_") and text not in RESERVED


def unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def snake_case(cls: str) -> str:
    """A block's name from its class's: `Bottleneck` -> `bottleneck`, `_DenseLayer` -> `dense_layer`.

    >>> snake_case("_DenseLayer"), snake_case("SEBlock"), snake_case("Conv")
    ('dense_layer', 'se_block', 'conv_block')
    """
    if not cls.isascii():
        return "block"
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls).lower()
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", name)).strip("_")
    if not valid_name(name):
        return "block"
    return f"{name}_block" if name in OPS else name


# ---------------------------------------------------------------------------- the text of an op


def _parse(op: str) -> tuple[str, list[tuple[str, str, bool]]]:
    """`conv(64, kernel=3)` -> ("conv", [("filters", "64", positional), ("kernel", "3", by name)])."""
    name, _, rest = op.partition("(")
    parts, depth, part = [], 0, ""
    for ch in rest[:-1]:  # a pair's comma is inside parentheses
        if ch == "," and depth == 0:
            parts.append(part.strip())
            part = ""
            continue
        depth += (ch == "(") - (ch == ")")
        part += ch
    if part.strip():
        parts.append(part.strip())
    positional = OPS[name].positional if name in OPS else ()
    args = []
    for i, p in enumerate(parts):
        key, eq, value = p.partition("=")
        args.append((key.strip(), value.strip(), False) if eq else (positional[i], p, True))
    return name, args


def _literal(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return f"({value[0]}, {value[1]})"
    return str(value)


def _values(name: str, args: list[tuple[str, str, bool]]) -> dict[str, str]:
    """Every argument's value as written, defaults filled in (so `stride` left out equals `stride=1`)."""
    given = {key: text for key, text, _ in args}
    if name not in OPS:
        return given
    out: dict[str, str] = {}
    for key, param in OPS[name].params.items():
        if key in given:
            out[key] = given[key]
        elif isinstance(param.default, str) and param.default in out:  # a pool's stride is its kernel
            out[key] = out[param.default]
        else:
            out[key] = _literal(param.default)  # "" for a required one (given) or an optional one
    return out


def with_params(op: str, params: dict[str, str]) -> str:
    """`op` with the arguments `params` names (argument -> parameter) given by the block's parameters."""
    if not params:
        return op
    name, args = _parse(op)
    order = list(OPS[name].params)
    given = {key for key, _, _ in args}
    positional = [params.get(key, text) for key, text, pos in args if pos]
    named = [(key, params.get(key, text)) for key, text, pos in args if not pos]
    named += [(key, p) for key, p in params.items() if key not in given]
    named.sort(key=lambda kv: order.index(kv[0]))
    return f"{name}({', '.join([*positional, *(f'{k}={v}' for k, v in named)])})"


# ---------------------------------------------------------------------------- joins of an instance's ends


def absorb_joins(layers: list[Layer]) -> list[Layer]:
    """Joins that read an instance's input and its last layer, right after it, moved into it, and a
    concatenation of an earlier one's operands and more written as that one and the rest."""
    layers = list(layers)
    concats: dict[tuple[str, ...], str] = {}  # operands -> the concat that joins them
    for i, join in enumerate(layers):
        if not join.join or i == 0:
            continue
        options = [join.inputs]
        if join.op == "concat":
            for k in range(len(join.inputs) - 1, 1, -1):
                earlier = concats.get(tuple(join.inputs[:k]))
                if earlier is not None:
                    options.insert(0, [earlier, *join.inputs[k:]])
                    break
            concats.setdefault(tuple(join.inputs), join.node)
        before = layers[i - 1]
        outer = {box.path for box in join.stack}
        for depth in reversed(range(len(before.stack))):  # the innermost instance `before` ends first
            box = before.stack[depth]
            if box.path in outer:
                break
            start = i - 1
            while start > 0 and box in layers[start - 1].stack:
                start -= 1
            inside = {la.node for la in layers[start:i]}
            read = {x for la in layers[start:i] for x in la.inputs if x not in inside}
            ends = {*read, before.node}
            chosen = next((o for o in options if len(o) == 2 and set(o) == ends and len(read) == 1), None)
            if chosen is not None:
                layers[i] = replace(join, inputs=list(chosen), stack=before.stack[: depth + 1])
                break
    return layers


# ---------------------------------------------------------------------------- instances and blocks


@dataclass(eq=False)
class Block:
    """A block: the instances that call it (the first is written as its body) and its parameters."""

    cls: str
    instances: list[Instance]
    params: list[str]  # in the header's order
    slots: dict[tuple[int, str], str]  # (line of the body, argument) -> the parameter that gives it
    name: str = ""
    local: list[str | None] = field(default_factory=list)  # the body's names, line by line


@dataclass(eq=False)
class Instance:
    """One module instance: its layers and the instances inside it, in order."""

    box: Container
    items: list[Layer | Instance]
    block: Block | None = None  # the block it calls, once recovered
    args: dict[str, str] = field(default_factory=dict)  # parameter -> value, for its call
    source: str = ""  # the one node it reads
    key: tuple = ()
    values: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def last(self) -> Layer:
        item = self.items[-1]
        return item.last if isinstance(item, Instance) else item

    def leaves(self) -> Iterator[Layer]:
        for item in self.items:
            yield from item.leaves() if isinstance(item, Instance) else (item,)


def _tree(layers: list[Layer], depth: int = 0) -> list[Layer | Instance]:
    items: list[Layer | Instance] = []
    i = 0
    while i < len(layers):
        if len(layers[i].stack) <= depth:
            items.append(layers[i])
            i += 1
            continue
        box, j = layers[i].stack[depth], i
        while j < len(layers) and len(layers[j].stack) > depth and layers[j].stack[depth] == box:
            j += 1
        items.append(Instance(box, _tree(layers[i:j], depth + 1)))
        i = j
    return items


def flat(items: list[Layer | Instance]) -> list[Layer | Instance]:
    """The lines of a scope: its layers and calls, the instances that call no block spliced in."""
    out: list[Layer | Instance] = []
    for item in items:
        if isinstance(item, Instance) and item.block is None:
            out += flat(item.items)
        else:
            out.append(item)
    return out


def output(item: Layer | Instance) -> str:
    return item.last.node if isinstance(item, Instance) else item.node


def _signature(g: Instance, users: dict[str, set[str]], twice: set[str]) -> bool:
    """Whether `g` can be a call (one input, read only through its last layer); its structure and values."""
    items = flat(g.items)
    if g.box.plain or g.box.path in twice or len(items) < 2:
        return False
    prefix, index, read = g.box.path + ".", {}, set()
    parts: list[tuple] = []
    for i, item in enumerate(items):
        inputs = item.inputs if isinstance(item, Layer) else [item.source]
        refs = tuple(index.get(x, "input") for x in inputs)
        read.update(x for x in inputs if x not in index)
        path = item.path if isinstance(item, Layer) else item.box.path
        if path is not None and not path.startswith(prefix):
            return False  # a module shared with another part of the network
        rel = path[len(prefix) :] if path is not None else None
        if isinstance(item, Layer):
            name, args = _parse(item.op)
            parts.append(("op", rel, name, refs, item.join))
            g.values.update(((i, k), v) for k, v in _values(name, args).items())
        else:
            parts.append(("call", rel, id(item.block), refs))
            g.values.update(((i, k), v) for k, v in item.args.items())
        index[output(item)] = i
    inside = {la.node for la in g.leaves()}
    if len(read) != 1 or any(users.get(n, set()) - inside for n in inside if n != g.last.node):
        return False
    g.key, g.source = (g.box.cls, tuple(parts)), read.pop()
    return True


def _parameterise(instances: list[Instance]) -> Block | None:
    """The block of instances with equal structure: the argument values that differ are its parameters
    (one for values that always agree, as a bottleneck's two inner convolutions' `filters`, and a depthwise
    convolution's `groups` is its `filters`)."""
    differ: dict[tuple[str, tuple[str, ...]], list[tuple[int, str]]] = {}
    for slot in instances[0].values:
        values = tuple(g.values[slot] for g in instances)
        if len(set(values)) > 1:
            differ.setdefault((slot[1], values), []).append(slot)
    same = {k: ("filters", k[1]) for k in differ if k[0] == "groups" and ("filters", k[1]) in differ}
    if len(differ) - len(same) > MAX_PARAMS:
        return None
    out = tuple(str(g.last.shape[1]) if g.last.shape and len(g.last.shape) > 1 else "" for g in instances)
    # a literal word in the body (`same`) must not be taken for a parameter
    taken = {"input", *RESERVED, *(v for g in instances for v in g.values.values() if v.isidentifier())}
    outputs = [k for k in differ if k[0] == "filters" and k[1] == out][:1]
    names = {k: unique("filters", taken) for k in outputs}
    for key in differ:
        if key not in names and key not in same:
            names[key] = unique("width" if key[0] == "filters" and outputs else key[0], taken)
    names.update({k: names[filters] for k, filters in same.items()})
    # `filters` first, as resnet18.net
    params = sorted(dict.fromkeys(names.values()), key=lambda p: p != "filters")
    slots = {s: names[k] for k, ss in differ.items() for s in ss}
    block = Block(instances[0].box.cls, instances, params, slots)
    first = {p: s for s, p in reversed(slots.items())}  # a parameter -> one argument it gives
    for g in instances:
        g.block = block
        g.args = {p: g.values[first[p]] for p in params}
    return block


def recover(layers: list[Layer]) -> tuple[list[Layer | Instance], list[Block]]:
    """The network's lines as layers and instances, and the blocks, innermost first (each instance that
    calls one knows it); `layers` themselves and no block when no module is repeated."""
    absorbed = absorb_joins(layers)
    users: dict[str, set[str]] = {absorbed[-1].node: {"<output>"}}  # node -> the nodes that read it
    for la in absorbed:
        for x in la.inputs:
            users.setdefault(x, set()).add(la.node)
    roots = _tree(absorbed)
    heights: dict[int, list[Instance]] = {}
    paths: dict[str, int] = {}

    def walk(items: list[Layer | Instance]) -> int:
        height = 0
        for item in items:
            if isinstance(item, Instance):
                h = walk(item.items) + 1
                heights.setdefault(h, []).append(item)
                paths[item.box.path] = paths.get(item.box.path, 0) + 1
                height = max(height, h)
        return height

    walk(roots)
    twice = {p for p, n in paths.items() if n > 1}  # a module called twice, apart
    blocks: list[Block] = []
    for h in sorted(heights):
        alike: dict[tuple, list[Instance]] = {}
        for g in heights[h]:
            if _signature(g, users, twice):
                alike.setdefault(g.key, []).append(g)
        blocks += [b for same in alike.values() if len(same) > 1 and (b := _parameterise(same))]
    return (roots, blocks) if blocks else (list(layers), [])


def name_blocks(blocks: list[Block], taken: set[str]) -> None:
    """Each block named after its class (`bottleneck`), not as an op or a name in `taken`; a class's
    other blocks after a module only they have (`bottleneck_downsample`), or numbered."""
    for block in sorted(blocks, key=lambda b: -len(b.instances)):  # a class's most called first
        base = snake_case(block.cls)
        main = max((b for b in blocks if b.cls == block.cls), key=lambda b: len(b.instances))
        extra = sorted(_modules_in(block) - _modules_in(main))
        if main is not block and extra and valid_name(f"{base}_{extra[0]}"):
            base = f"{base}_{extra[0]}"
        block.name = unique(base, taken | set(OPS))
        taken.add(block.name)


def _modules_in(block: Block) -> set[str]:
    """The modules directly inside the block's first instance (`conv1`, `downsample`)."""
    g = block.instances[0]
    prefix = g.box.path + "."
    return {la.path[len(prefix) :].split(".")[0] for la in g.leaves() if (la.path or "").startswith(prefix)}
