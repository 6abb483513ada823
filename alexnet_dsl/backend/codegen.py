"""Checked IR -> the Python source of one `nn.Module` class, and the line of each layer in it.

The source is the single definition of a compiled network: `dslc compile` writes it to a file and
`alexnet_dsl.compile` executes it. It is deterministic (the same spec gives the same bytes), reads
like a hand-written module (a line per layer, the inferred shape as a comment) and imports only
torch, plus alexnet_dsl where the fused Triton kernels are used.

The parts: names.py turns the spec's names into Python's, plan.py decides `forward`'s statements,
op_code.py writes each op, prelude.py copies in the runtime helpers the statements call. source_map.py
reads `forward` back, a statement per layer, to run it a line at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from alexnet_dsl import ir
from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.intsets import IntSet
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import Shape
from alexnet_dsl.backend.fuse import layer_shapes
from alexnet_dsl.backend.names import (
    PUBLIC_METHODS,
    attr_path,
    class_name,
    fstring_text,
    imports_renamed,
    input_arg,
    rename_own_names,
    safe_comment,
)
from alexnet_dsl.backend.op_code import submodules
from alexnet_dsl.backend.plan import Step, forward_plan, network_for, returned
from alexnet_dsl.backend.prelude import prelude
from alexnet_dsl.ir import expr as E

BACKENDS = ("torch", "triton", "auto")
INITS = ("default", "paper")

# The class's name while the source is written, where the class takes the name of one of the module's
# imports: `rename_own_names` then renames the import's uses, and this placeholder becomes the name.
_CLASS_PLACEHOLDER = "_dslc_network_class"


@dataclass(frozen=True)
class Generated:
    """A generated module: its source, and where in it `forward` computes each layer."""

    source: str
    # 1-based line -> the layer its statement computes (a fused group's line: the fused layer, named
    # after its conv); every layer of the network as the backend runs it has exactly one line
    layer_lines: dict[int, str]


def generate(analysis: Analysis, backend: str = "torch", init: str = "default") -> str:
    """The Python source of the network of a checked spec."""
    return generate_module(analysis, backend, init).source


def generate_module(analysis: Analysis, backend: str = "torch", init: str = "default") -> Generated:
    """The generated module of a checked spec: its source and the line of each layer's statement."""
    _check_arguments(analysis, backend, init)
    net = network_for(analysis, backend)
    clash = imports_renamed(net)  # the class keeps its name; the module's own import yields
    cls = _CLASS_PLACEHOLDER if clash else class_name(net.name)
    arg = input_arg(net)
    # the file name only: the output must not depend on the directory dslc ran in
    spec = safe_comment(analysis.source.path.replace("\\", "/").rsplit("/", 1)[-1])
    plan = forward_plan(net, arg)
    helpers = {step.helper for step in plan if step.helper}
    if analysis.admissible:  # the input check tests sizes against the admissible sets
        helpers.add("admissible")
    chunks = [_header(analysis, backend, spec, "fused" in helpers, clash), *prelude(helpers, backend)]

    shapes = layer_shapes(analysis, net)
    nhwc = _channels_last(net) and backend != "triton"  # the kernels are built for NCHW
    head = [
        f"class {cls}(nn.Module):",
        f'    """Compiled from {spec}; parameters are named after its layers."""',
        "",
        *_init(net, shapes, nhwc, init),
        "",
        *_input_check(analysis, arg, spec, cls),
        "",
    ]
    prologue = _forward_prologue(arg, nhwc, backend)
    statements = _statements(plan, shapes)
    forward = [
        f"    def forward(self, {arg}: torch.Tensor) -> torch.Tensor:",
        *prologue,
        *statements,
        f"        return {returned(plan, net, arg)}",
    ]
    cls_lines = head + forward + ["", *_paper_init(list(net.layers)), *_public_names(net)]

    before = "\n\n\n".join(chunks) + "\n\n\n"
    source = before + "\n".join(cls_lines) + "\n"
    if clash:  # renames within lines, the runtime regions included (prelude.py): the line numbers stay
        source = rename_own_names(source, clash).replace(_CLASS_PLACEHOLDER, class_name(net.name))
    first = before.count("\n") + 1 + len(head) + 1 + len(prologue)  # the line of the first statement
    return Generated(source, {first + i: step.layer for i, step in enumerate(plan)})


def _check_arguments(analysis: Analysis, backend: str, init: str) -> None:
    assert analysis.ok and analysis.network is not None, "generate() needs a spec that checks"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose 'default' or 'paper'")


def _header(analysis: Analysis, backend: str, spec: str, fused: bool, private: set[str]) -> str:
    """The module's first chunk: where it came from, its docstring and its imports."""
    net = analysis.network
    assert net is not None
    dims = ", ".join(str(d) for d in net.input_dims)
    output = ", ".join(_dim(d) for d in (analysis.output or ()))
    lines = [
        f"# Generated by dslc {__version__} from {spec} (backend: {backend}).",
        "# Edit the spec and run `dslc compile` again rather than editing this file.",
        f'"""{safe_comment(net.name)}: input `{net.input_name}` [{dims}] -> [{output}]."""',
        "",
        "from __future__ import annotations",
        "",
        *_imports(fused, private),
    ]
    return "\n".join(lines)


def _imports(fused: bool, private: set[str]) -> list[str]:
    """The generated module's imports; a name in `private` (the class takes it) is imported as `_NAME`."""

    def name(n: str) -> str:
        return f"{n} as _{n}" if n in private else n

    lines = [
        f"import {name('torch')}",
        "import torch.nn.functional as " + ("_F" if "F" in private else "F"),
        f"from torch import {name('nn')}",
    ]
    if fused:
        lines.append("")
        if private & {"LRNParams", "fused_conv2d"}:  # one name a line, as isort writes `as` imports
            lines += [
                f"from alexnet_dsl.kernels import {name('LRNParams')}",
                f"from alexnet_dsl.kernels import {name('fused_conv2d')}",
            ]
        else:
            lines.append("from alexnet_dsl.kernels import LRNParams, fused_conv2d")
    return lines


def _dim(d) -> str:
    return str(d) if isinstance(d, int) else E.show(d)


def _channels_last(net: ir.Network) -> bool:
    """Whether the module runs in NHWC: images in, and convolutions or pooling to run."""
    return len(net.input_dims) == 4 and any(
        isinstance(layer.op, (ir.Conv, ir.Pool, ir.FusedConv)) for layer in net.layers
    )


def _init(net: ir.Network, shapes: dict[str, Shape | None], nhwc: bool, init: str) -> list[str]:
    """`__init__`: one submodule per layer with parameters, nested for block instances."""
    lines = ["    def __init__(self) -> None:", "        super().__init__()"]
    containers: set[str] = set()
    for layer in net.layers:
        for name, expr in submodules(layer, shapes[layer.inputs[0]]):  # type: ignore[arg-type]
            parts = name.split(".")
            for k in range(1, len(parts)):
                prefix = ".".join(parts[:k])
                if prefix not in containers:
                    containers.add(prefix)
                    lines.append(f"        self.{attr_path(prefix)} = nn.Module()")
            lines.append(f"        self.{attr_path(name)} = {expr}")
    if nhwc:
        lines.append("        # convolutions and pooling run fastest on channels-last (NHWC) tensors on CPUs")
        lines.append("        self.to(memory_format=torch.channels_last)")
    if init == "paper":
        lines.append("        self._reset_parameters_paper()")
    return lines


def _forward_prologue(arg: str, nhwc: bool, backend: str) -> list[str]:
    """`forward`'s statements before the layers': the input check, and the input to NHWC."""
    lines = [f"        self._check_input({arg})"]
    if nhwc and backend == "auto":  # the Triton kernels take NCHW; the CPU ops run fastest in NHWC
        lines.append(f"        if not {arg}.is_cuda:")
        lines.append(f"            {arg} = {arg}.contiguous(memory_format=torch.channels_last)")
    elif nhwc:
        lines.append(f"        {arg} = {arg}.contiguous(memory_format=torch.channels_last)")
    return lines


def _statements(plan: list[Step], shapes: dict[str, Shape | None]) -> list[str]:
    """One line per layer, its output shape as a comment: `x = self.conv1(image)  # (N, 96, 55, 55)`."""
    lines = []
    for step in plan:
        shape = shapes.get(step.layer)
        comment = "" if shape is None else "  # (" + ", ".join(_dim(d) for d in shape) + ")"
        lines.append(f"        {step.out} = {step.code}{comment}")
    return lines


def _paper_init(layers: list[ir.Layer]) -> list[str]:
    """AlexNet's initialisation: weights N(0, 0.01); biases 1 in the 2nd, 4th and 5th conv and in
    every linear layer but the last, 0 elsewhere."""
    convs = [la for la in layers if isinstance(la.op, (ir.Conv, ir.FusedConv))]
    linears = [la for la in layers if isinstance(la.op, ir.Linear)]
    ones = {convs[i].name for i in (1, 3, 4) if i < len(convs)} | {la.name for la in linears[:-1]}
    lines = [
        "    def _reset_parameters_paper(self) -> None:",
        '        """The AlexNet paper\'s initialisation (section 5)."""',
        "        with torch.no_grad():",
    ]
    for la in convs + linears:
        attr = f"self.{attr_path(la.name)}"
        lines.append(f"            {attr}.weight.normal_(0.0, 0.01)")
        has_bias = la.op.conv.bias if isinstance(la.op, ir.FusedConv) else la.op.bias  # type: ignore[union-attr]
        if has_bias:
            lines.append(f"            {attr}.bias.fill_({1.0 if la.name in ones else 0.0})")
    if not convs and not linears:
        lines.append("            pass")
    return lines


def _public_names(net: ir.Network) -> list[str]:
    """The two methods' public names, except where a layer (or block instance) has the name: the user's wins."""
    taken = {layer.name.split(".")[0] for layer in net.layers}
    aliases = [f"    {public} = {own}" for public, own in PUBLIC_METHODS.items() if public not in taken]
    return ["", "    # the public names of the two methods above", *aliases] if aliases else []


def _input_check(analysis: Analysis, arg: str, spec: str, cls: str) -> list[str]:
    """`_check_input`: a ValueError naming the shape expected, unless the input has it."""
    net = analysis.network
    assert net is not None
    shown = "[" + ", ".join(str(d) for d in net.input_dims) + "]"
    shown_name = net.input_name  # the spec's name, even where the parameter is `class_`
    conds, first_of = _shape_conditions(net.input_dims, analysis.admissible, arg)
    lines = [
        f"    def _check_input(self, {arg}: torch.Tensor) -> None:",
        f'        """Raise ValueError unless `{shown_name}` has a shape this network accepts."""',
        "        if (",
    ]
    lines += [f"            {c}{' or' if k < len(conds) - 1 else ''}" for k, c in enumerate(conds)]
    lines.append("        ):")
    sizes = "; ".join(f"{s} in {v.describe(s)}" for s, v in analysis.admissible.items())
    expects = f"{cls} ({spec}) expects `{shown_name}` of shape {shown}" + (f" with {sizes}" if sizes else "")
    lines += [
        "            raise ValueError(",
        f'                f"{expects}, got {{list({arg}.shape)}}"',
        "            )",
    ]
    # Sizes tied to each other: each size alone may be admissible and the pair still not.
    names = {d: f"{arg}.shape[{i}]" for d, i in first_of.items()}
    for c in analysis.couplings:
        lines += _coupling_check(c, names, arg, f"{cls} ({spec}): `{shown_name}`")
    return lines


def _shape_conditions(
    dims: tuple[ir.Dim, ...], admissible: dict[str, IntSet], arg: str
) -> tuple[list[str], dict[str, int]]:
    """The conditions under which the input's shape is wrong, and the first dim of each symbol."""
    conds = [f"{arg}.dim() != {len(dims)}"]
    first_of: dict[str, int] = {}
    for i, d in enumerate(dims):
        if isinstance(d, int):
            conds.append(f"{arg}.shape[{i}] != {d}")
        elif d in first_of:
            conds.append(f"{arg}.shape[{i}] != {arg}.shape[{first_of[d]}]")
        else:
            first_of[d] = i
            if d in admissible:
                conds.append(f"not _admissible({arg}.shape[{i}], {_ranges_literal(admissible[d])})")
    return conds, first_of


_HOLDS = {"eq": "==", "ge": ">="}  # a coupling's relation, and the comparison that finds it broken
_VIOLATED = {"eq": "!=", "ge": "<"}


def _coupling_check(c, names: dict[str, str], arg: str, what: str) -> list[str]:
    """A ValueError unless the input's sizes satisfy the coupling `c` (`H >= W`, `4 divides H - 3`, ...)."""
    lhs, rhs = E.python(c.lhs, names), E.python(c.rhs, names)
    if c.kind == "div":
        cond = f"{lhs} % {rhs} != 0"
        rule = f"{E.show(c.rhs)} divides {E.show(c.lhs)}"
    else:
        cond = f"{lhs} {_VIOLATED[c.kind]} {rhs}"
        rule = f"{E.show(c.lhs)} {_HOLDS[c.kind]} {E.show(c.rhs)}"
    message = fstring_text(f"{c.what} ({rule})")
    return [
        f"        if {cond}:",
        "            raise ValueError(",
        f'                f"{what} of shape {{list({arg}.shape)}} does not check: {message}"',
        "            )",
    ]


def _ranges_literal(s: IntSet) -> str:
    ranges = ", ".join(f"({lo}, {hi})" for lo, hi in s.ranges)
    return f"(({ranges},), {s.mod}, {tuple(sorted(s.residues))!r})"
