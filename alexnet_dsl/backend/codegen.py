"""Checked IR -> the Python source of one `nn.Module` class.

The source is the single definition of a compiled network: `dslc compile` writes it to a file and
`alexnet_dsl.compile` executes it. It is deterministic (the same spec gives the same bytes), reads
like a hand-written module (a line per layer, the inferred shape as a comment) and imports only
torch, plus alexnet_dsl where the fused Triton kernels are used.

Names from the spec never reach the source unchecked, and survive wherever Python allows: the
grammar admits only ASCII identifiers, and `mangle` appends `_` only to Python keywords, names
starting with `_` and names `nn.Module` already has, so `class: conv(...)` becomes the attribute
`class_` (and the state_dict key `class_.weight`) while `check_input: conv(...)` stays
`check_input`. The generated code's own names give way instead: its members and helpers start with
`_` (`_check_input`, `_lrn`), which no mangled name can equal.
"""

from __future__ import annotations

import io
import keyword
import textwrap
import tokenize
from dataclasses import dataclass

from alexnet_dsl import ir
from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.pipeline import Analysis
from alexnet_dsl.analysis.shapes import Shape, input_shape
from alexnet_dsl.analysis.solve import IntSet
from alexnet_dsl.backend import prelude as ops_source
from alexnet_dsl.backend.fuse import fuse
from alexnet_dsl.ir import expr as E

BACKENDS = ("torch", "triton", "auto")

# Names nn.Module already has (its methods, class attributes and `training`): a submodule cannot be
# registered under them, so a layer of that name gets `_` appended. tests/backend/test_compile.py keeps the set
# equal to what the installed torch has (codegen must not import torch: `dslc compile` runs without it).
_MODULE_ATTRS = {
    "T_destination",
    "add_module",
    "apply",
    "bfloat16",
    "buffers",
    "call_super_init",
    "children",
    "compile",
    "cpu",
    "cuda",
    "double",
    "dump_patches",
    "eval",
    "extra_repr",
    "float",
    "forward",
    "get_buffer",
    "get_extra_state",
    "get_parameter",
    "get_submodule",
    "half",
    "ipu",
    "load_state_dict",
    "modules",
    "mtia",
    "named_buffers",
    "named_children",
    "named_modules",
    "named_parameters",
    "parameters",
    "register_backward_hook",
    "register_buffer",
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook",
    "register_module",
    "register_parameter",
    "register_state_dict_post_hook",
    "register_state_dict_pre_hook",
    "requires_grad_",
    "set_extra_state",
    "set_submodule",
    "share_memory",
    "state_dict",
    "to",
    "to_empty",
    "train",
    "training",
    "type",
    "xpu",
    "zero_grad",
}
# Names the generated module binds at top level, which the class and `forward`'s parameter must not shadow.
# The generated code's own members and helpers start with `_` and do not end with it (`_check_input`,
# `_lrn`); a spec name starting with `_` gets `_` appended, so the two never clash.
_TOP_NAMES = {"torch", "nn", "F", "annotations", "LRNParams", "fused_conv2d"}
# Public names for two generated methods; a layer of the same name takes precedence (they stay
# available as `_check_input` and `_reset_parameters_paper`).
PUBLIC_METHODS = {"check_input": "_check_input", "reset_parameters_paper": "_reset_parameters_paper"}


def mangle(name: str) -> str:
    """A layer name as a submodule name (the attribute and the state_dict key): the name itself, or with
    `_` appended where Python or nn.Module cannot take it (a keyword, a name starting with `_`, a name
    nn.Module already has)."""
    if keyword.iskeyword(name) or name.startswith("_") or name in _MODULE_ATTRS:
        return name + "_"
    return name


def class_name(name: str) -> str:
    """The network's name as the class name: `_` appended only for a keyword or a name starting with `_`.
    A class named like one of the module's imports (`F`, `torch`, ...) keeps its name: the generated code's
    own uses of that import take a private name instead (see `rename_own_names`)."""
    if keyword.iskeyword(name) or name.startswith("_"):
        return name + "_"
    return name


_CLASS_PLACEHOLDER = "_dslc_network_class"


def imports_renamed(net: ir.Network) -> set[str]:
    """The imports the generated file takes under a private name (`F` as `_F`) because the class has theirs."""
    return {class_name(net.name)} & (_TOP_NAMES - {"annotations"})


def rename_own_names(source: str, names: set[str]) -> str:
    """`source` with the generated code's own uses of the imported `names` renamed `_NAME` (`F.relu` ->
    `_F.relu`); attributes, strings, comments and import statements (`_imports` writes those) are left alone."""
    edits: list[tuple[int, int]] = []  # where to insert `_`
    statement: list[tokenize.TokenInfo] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                statement.append(tok)
            continue
        if statement and statement[0].string not in ("import", "from"):
            edits += [
                t.start
                for i, t in enumerate(statement)
                if t.type == tokenize.NAME
                and t.string in names
                and not (i and statement[i - 1].string == ".")
            ]
        statement = []
    lines = source.split("\n")
    for row, col in sorted(edits, reverse=True):
        lines[row - 1] = lines[row - 1][:col] + "_" + lines[row - 1][col:]
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


def _pair(p) -> str:
    return f"({p[0]}, {p[1]})"


def _dim(d) -> str:
    return str(d) if isinstance(d, int) else E.show(d)


def _shape_comment(shape: Shape | None) -> str:
    return "" if shape is None else "  # (" + ", ".join(_dim(d) for d in shape) + ")"


def _safe_comment(text: str) -> str:
    """Text for a comment, docstring or f-string: printable ASCII on one line, no quotes that could close,
    no braces that an f-string would evaluate."""
    return "".join(ch if 32 <= ord(ch) < 127 and ch not in "\\\"'{}" else "?" for ch in text)


def _fstring_text(text: str) -> str:
    """Text inside a double-quoted f-string, kept readable: braces doubled, no quote or backslash."""
    text = "".join(ch if 32 <= ord(ch) < 127 and ch != "\\" else "?" for ch in text).replace('"', "'")
    return text.replace("{", "{{").replace("}", "}}")


@dataclass
class _Names:
    """Unique Python identifiers for layer outputs."""

    taken: set[str]

    def var(self, layer_name: str) -> str:
        base = "x_" + layer_name.replace(".", "_").replace("'", "_")
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


def _attr_path(name: str) -> str:
    return ".".join(mangle(part) for part in name.split("."))


def _module_expr(layer: ir.Layer, in_shape: Shape) -> str | None:
    op = layer.op.conv if isinstance(layer.op, ir.FusedConv) else layer.op
    if isinstance(op, ir.Conv):
        args = [str(in_shape[1]), str(op.filters), f"kernel_size={_pair(op.kernel)}"]
        if op.stride != (1, 1):
            args.append(f"stride={_pair(op.stride)}")
        if op.padding == "same":
            args.append("padding='same'")
        elif op.padding != (0, 0):
            args.append(f"padding={_pair(op.padding)}")
        if op.dilation != (1, 1):
            args.append(f"dilation={_pair(op.dilation)}")
        if op.groups != 1:
            args.append(f"groups={op.groups}")
        if not op.bias:
            args.append("bias=False")
        return f"nn.Conv2d({', '.join(args)})"
    if isinstance(op, ir.Linear):
        return f"nn.Linear({in_shape[1]}, {op.features}{'' if op.bias else ', bias=False'})"
    if isinstance(op, ir.BatchNorm):
        kind = "BatchNorm2d" if len(in_shape) == 4 else "BatchNorm1d"
        extra = (f", eps={op.eps!r}" if op.eps != 1e-5 else "") + (
            f", momentum={op.momentum!r}" if op.momentum != 0.1 else ""
        )
        return f"nn.{kind}({in_shape[1]}{extra})"
    return None


def _call(layer: ir.Layer, args: list[str], backend: str, helpers: set[str], inplace: bool = False) -> str:
    op = layer.op
    x = args[0] if args else ""
    attr = f"self.{_attr_path(layer.name)}"
    if isinstance(op, ir.FusedConv):
        helpers.add("fused")
        lrn = (
            "None" if op.lrn is None else f"({op.lrn.size}, {op.lrn.alpha!r}, {op.lrn.beta!r}, {op.lrn.k!r})"
        )
        return f"_conv_relu_lrn({x}, {attr}, lrn={lrn})"
    if isinstance(op, ir.Linear):
        # Called as its module (hooks, quantize_dynamic, a replaced head), with its F.linear on oneDNN's
        # matmul when no gradient is needed: twice MKL's speed here
        helpers.add("linear")
        return f"_fast_call({attr}, {x})"
    if isinstance(op, (ir.Conv, ir.BatchNorm)):
        return f"{attr}({x})"
    if isinstance(op, ir.Pool):
        extra = ""
        if op.padding != (0, 0):
            extra += f", padding={_pair(op.padding)}"
        if op.ceil:
            extra += ", ceil_mode=True"
        if op.kind == "max":
            return f"F.max_pool2d({x}, {_pair(op.kernel)}, {_pair(op.stride)}{extra})"
        if not op.count_include_pad:
            extra += ", count_include_pad=False"
        return f"F.avg_pool2d({x}, {_pair(op.kernel)}, {_pair(op.stride)}{extra})"
    if isinstance(op, ir.AdaptiveAvgPool):
        return f"F.adaptive_avg_pool2d({x}, {_pair(op.output)})"
    if isinstance(op, ir.LRN):
        helpers.add("lrn")
        extra = ", inplace=True" if inplace else ""
        return f"_lrn({x}, {op.size}, {op.alpha!r}, {op.beta!r}, {op.k!r}{extra})"
    if isinstance(op, ir.Dropout):
        return f"F.dropout({x}, {op.p!r}, self.training)"
    if isinstance(op, ir.Flatten):
        return f"torch.flatten({x}, 1)"
    if isinstance(op, ir.Activation):
        return {
            "relu": f"F.relu({x}, inplace=True)" if inplace else f"F.relu({x})",
            "tanh": f"torch.tanh({x})",
            "sigmoid": f"torch.sigmoid({x})",
            "softmax": f"F.softmax({x}, dim=1)",
        }[op.kind]
    if isinstance(op, ir.Add):
        return " + ".join(args)
    if isinstance(op, ir.Concat):
        return f"torch.cat(({', '.join(args)}), dim=1)"
    raise AssertionError(f"no code for {op}")


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
        attr = f"self.{_attr_path(la.name)}"
        lines.append(f"            {attr}.weight.normal_(0.0, 0.01)")
        has_bias = la.op.conv.bias if isinstance(la.op, ir.FusedConv) else la.op.bias  # type: ignore[union-attr]
        if has_bias:
            lines.append(f"            {attr}.bias.fill_({1.0 if la.name in ones else 0.0})")
    if not convs and not linears:
        lines.append("            pass")
    return lines


def _input_check(
    net: ir.Network, admissible: dict[str, IntSet], arg: str, spec: str, cls: str, couplings=()
) -> list[str]:
    dims = net.input_dims
    shown = "[" + ", ".join(str(d) for d in dims) + "]"
    shown_name = net.input_name  # the spec's name, even where the parameter is `class_`
    conds = [f"{arg}.dim() != {len(dims)}"]
    first_of: dict[str, int] = {}
    for i, d in enumerate(dims):
        if isinstance(d, int):
            conds.append(f"{arg}.shape[{i}] != {d}")
        elif isinstance(d, str):
            if d in first_of:
                conds.append(f"{arg}.shape[{i}] != {arg}.shape[{first_of[d]}]")
            else:
                first_of[d] = i
                if d in admissible:
                    conds.append(f"not _admissible({arg}.shape[{i}], {_ranges_literal(admissible[d])})")
    lines = [
        f"    def _check_input(self, {arg}: torch.Tensor) -> None:",
        f'        """Raise ValueError unless `{shown_name}` has a shape this network accepts."""',
        "        if (",
    ]
    lines += [f"            {c}{' or' if k < len(conds) - 1 else ''}" for k, c in enumerate(conds)]
    lines.append("        ):")
    sizes = "; ".join(f"{s} in {v.describe(s)}" for s, v in admissible.items())
    lines.append("            raise ValueError(")
    lines.append(
        f'                f"{cls} ({spec}) expects `{shown_name}` of shape {shown}'
        + (f" with {sizes}" if sizes else "")
        + ", got {list("
        + arg
        + '.shape)}"'
    )
    lines.append("            )")
    # Sizes tied to each other: each size alone may be admissible and the pair still not.
    names = {d: f"{arg}.shape[{i}]" for d, i in first_of.items()}
    for c in couplings:
        op = {"eq": "!=", "ge": "<", "div": "%"}[c.kind]
        lhs, rhs = E.python(c.lhs, names), E.python(c.rhs, names)
        cond = f"{lhs} % {rhs} != 0" if c.kind == "div" else f"{lhs} {op} {rhs}"
        relation = {"eq": "==", "ge": ">=", "div": "divides"}[c.kind]
        shown_rule = (
            f"{E.show(c.rhs)} divides {E.show(c.lhs)}"
            if c.kind == "div"
            else f"{E.show(c.lhs)} {relation} {E.show(c.rhs)}"
        )
        message = _fstring_text(f"{c.what} ({shown_rule})")
        lines += [
            f"        if {cond}:",
            "            raise ValueError(",
            f'                f"{cls} ({spec}): `{shown_name}` of shape {{list({arg}.shape)}} does not check: {message}"',
            "            )",
        ]
    return lines


def _ranges_literal(s: IntSet) -> str:
    ranges = ", ".join(f"({lo}, {hi})" for lo, hi in s.ranges)
    return f"(({ranges},), {s.mod}, {tuple(sorted(s.residues))!r})"


_RETURN = "<return>"  # the reader `forward`'s return statement stands for (no layer has this name)


@dataclass(frozen=True)
class Step:
    """One line of `forward`: `out = code`, computing the output of `layer`."""

    layer: str
    out: str
    code: str
    helpers: frozenset[str]


def forward_plan(net: ir.Network, arg: str, backend: str) -> list[Step]:
    """The statements of `forward`, one per layer in the network's order (`ir.Network.order`; also
    used by `testing.assert_shapes` and the ONNX export). `forward` returns the value of
    `net.output_layer`, which no later statement overwrites, wherever it falls in the order."""
    order = net.ordered
    readers: dict[str, list[str]] = {}
    for layer in order:
        for n in layer.inputs:
            readers.setdefault(n, []).append(layer.name)
    readers.setdefault(net.output_layer, []).append(_RETURN)  # read after every statement
    chain = "x"
    # `x` holds a value whose only reader is the next line, so overwriting it is always safe; a value
    # read later, or more than once, gets a name of its own. An input called `x` keeps its name, and
    # `x` is free from the statement that reads the input for the last time.
    input_read_until = (
        max((pos for pos, la in enumerate(order) if net.input_name in la.inputs), default=-1)
        if arg == chain
        else -1
    )
    names = _Names({"self", chain, arg})
    var: dict[str, str] = {net.input_name: arg}
    producers = {layer.name: layer for layer in order}
    plan = []
    for pos, layer in enumerate(order):
        args = [var[n] for n in layer.inputs]
        nxt = order[pos + 1].name if pos + 1 < len(order) else None
        r = readers.get(layer.name, [])
        chained = len(r) == 1 and r[0] == nxt
        if not r:  # a side branch nothing reads: still run (its hooks fire), its value discarded
            out = "_"
        elif (chained or nxt is None) and pos >= input_read_until:
            out = chain
        else:
            out = names.var(layer.name)
        var[layer.name] = out
        helpers: set[str] = set()
        code = _call(layer, args, backend, helpers, inplace=_in_place(layer, producers, readers))
        plan.append(Step(layer.name, out, code, frozenset(helpers)))
    return plan


# Ops whose output a ReLU may overwrite: their backward does not read their output, and the output
# is a fresh tensor (not a view of something still needed). Not softmax, tanh or sigmoid, whose
# backward reads their output, nor flatten (a view) or the network's input.
_FRESH_OUTPUT = (
    ir.Conv,
    ir.Linear,
    ir.BatchNorm,
    ir.Pool,
    ir.AdaptiveAvgPool,
    ir.LRN,
    ir.Add,
    ir.Concat,
    ir.FusedConv,
)


def _in_place(layer: ir.Layer, producers: dict[str, ir.Layer], readers: dict[str, list[str]]) -> bool:
    """Whether a ReLU or an LRN may overwrite its input (saving a pass over memory, or an allocation):
    only when nothing else reads that input. LRN works in place only when no gradient is needed."""
    if len(layer.inputs) != 1:
        return False
    source = producers.get(layer.inputs[0])
    if source is None or readers.get(source.name, []) != [layer.name]:
        return False
    if layer.op == ir.Activation("relu"):
        return isinstance(source.op, _FRESH_OUTPUT)
    if isinstance(layer.op, ir.LRN):
        return isinstance(source.op, _FRESH_OUTPUT) or source.op == ir.Activation("relu")
    return False


def _channels_last(net: ir.Network) -> bool:
    """Whether the module runs in NHWC: images in, and convolutions or pooling to run."""
    return len(net.input_dims) == 4 and any(
        isinstance(layer.op, (ir.Conv, ir.Pool, ir.FusedConv)) for layer in net.layers
    )


def network_for(analysis: Analysis, backend: str) -> ir.Network:
    """The network as the backend runs it: fused for the Triton backends."""
    assert analysis.network is not None
    return analysis.network if backend == "torch" else fuse(analysis.network)


def input_arg(net: ir.Network) -> str:
    """`forward`'s parameter: the input's own name, with `_` appended only where Python cannot take it
    (a keyword, `self`, a name starting with `_`, a name the generated module imports). Messages and
    the exported ONNX input use the input's own name."""
    name = net.input_name
    if keyword.iskeyword(name) or name == "self" or name.startswith("_") or name in _TOP_NAMES:
        return name + "_"
    return name


def generate(analysis: Analysis, backend: str = "torch", init: str = "default") -> str:
    """The Python source of the network of a checked spec."""
    assert analysis.ok and analysis.network is not None, "generate() needs a spec that checks"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if init not in ("default", "paper"):
        raise ValueError(f"unknown init {init!r}; choose 'default' or 'paper'")
    net = analysis.network
    shapes: dict[str, Shape | None] = {i.layer.name: i.shape for i in analysis.infos}
    shapes[net.input_name] = input_shape(net)
    net = network_for(analysis, backend)
    for layer in net.layers:
        if isinstance(layer.op, ir.FusedConv):
            shapes[layer.name] = shapes[layer.op.parts[-1]]
    cls = class_name(net.name)
    clash = imports_renamed(net)  # the class keeps its name; the module's own import yields
    if clash:
        cls = _CLASS_PLACEHOLDER
    arg = input_arg(net)
    # the file name only: the output must not depend on the directory dslc ran in
    spec = _safe_comment(analysis.source.path.replace("\\", "/").rsplit("/", 1)[-1])

    # __init__: one module per layer with parameters, nested for block instances
    init_lines: list[str] = []
    containers: set[str] = set()
    for layer in net.layers:
        expr_ = _module_expr(layer, shapes[layer.inputs[0]])  # type: ignore[arg-type]
        if expr_ is None:
            continue
        parts = layer.name.split(".")
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if prefix not in containers:
                containers.add(prefix)
                init_lines.append(f"        self.{_attr_path(prefix)} = nn.Module()")
        init_lines.append(f"        self.{_attr_path(layer.name)} = {expr_}")
    nhwc = _channels_last(net) and backend != "triton"  # the kernels are built for NCHW
    if nhwc:
        init_lines.append(
            "        # convolutions and pooling run fastest on channels-last (NHWC) tensors on CPUs"
        )
        init_lines.append("        self.to(memory_format=torch.channels_last)")
    if init == "paper":
        init_lines.append("        self._reset_parameters_paper()")

    # forward: one line per layer in a topological order
    plan = forward_plan(net, arg, backend)
    helpers = {h for step in plan for h in step.helpers}
    body = [f"        self._check_input({arg})"]
    if nhwc and backend == "auto":  # the Triton kernels take NCHW; the CPU ops run fastest in NHWC
        body.append(f"        if not {arg}.is_cuda:")
        body.append(f"            {arg} = {arg}.contiguous(memory_format=torch.channels_last)")
    elif nhwc:
        body.append(f"        {arg} = {arg}.contiguous(memory_format=torch.channels_last)")
    body += [f"        {step.out} = {step.code}{_shape_comment(shapes.get(step.layer))}" for step in plan]
    returned = {step.layer: step.out for step in plan}.get(net.output_layer, arg)
    body.append(f"        return {returned}")

    header = [
        f"# Generated by dslc {__version__} from {spec} (backend: {backend}).",
        "# Edit the spec and run `dslc compile` again rather than editing this file.",
        f'"""{_safe_comment(net.name)}: input `{net.input_name}` '
        + "["
        + ", ".join(str(d) for d in net.input_dims)
        + "]"
        + " -> ["
        + ", ".join(_dim(d) for d in (analysis.output or ()))
        + ']."""',
        "",
        "from __future__ import annotations",
        "",
        *_imports("fused" in helpers, clash),
    ]
    prelude = ops_source.helpers(sorted(helpers), backend)
    admissible = analysis.admissible
    if admissible:
        prelude.append(
            textwrap.dedent("""
            def _admissible(size: int, sets) -> bool:
                ranges, mod, residues = sets
                in_range = any(lo <= size and (hi is None or size <= hi) for lo, hi in ranges)
                return in_range and size % mod in residues
            """).strip("\n")
        )
    cls_lines = [
        f"class {cls}(nn.Module):",
        f'    """Compiled from {spec}; parameters are named after its layers."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *init_lines,
        "",
        *_input_check(net, admissible, arg, spec, cls, analysis.couplings),
        "",
        f"    def forward(self, {arg}: torch.Tensor) -> torch.Tensor:",
        *body,
    ]
    cls_lines += ["", *_paper_init(list(net.layers))]
    # the methods' public names, except where a layer (or block instance) has the name: the user's wins
    taken = {layer.name.split(".")[0] for layer in net.layers}
    aliases = [f"    {public} = {own}" for public, own in PUBLIC_METHODS.items() if public not in taken]
    if aliases:
        cls_lines += ["", "    # the public names of the two methods above", *aliases]
    chunks = ["\n".join(header)]
    chunks += prelude
    chunks.append("\n".join(cls_lines))
    source = "\n\n\n".join(chunks) + "\n"
    if clash:
        source = rename_own_names(source, clash).replace(_CLASS_PLACEHOLDER, class_name(net.name))
    return source
