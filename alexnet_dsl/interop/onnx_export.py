"""`dslc export --onnx`: a compiled spec as an ONNX model whose shapes are checked against ONNX's.

    spec -> compile (torch backend) -> torch.export -> torch.onnx -> onnx.checker
         -> ONNX's shape inference, compared with ours layer by layer

The batch, and every input symbol that no parameter depends on, stays a dynamic axis named after
the symbol (`N`, `H`, ...); symbols bound with `sizes` become fixed sizes.

LRN. The generated module calls its module-level helper `_lrn`; during the export that global is
swapped for `_export_lrn`. Odd sizes go through the custom op `dslc::onnx_lrn`, which the exporter
writes as one ONNX `LRN` node; ONNX divides its alpha by the size, so the attribute is
`alpha * size`. Even sizes are written out in plain ops (PyTorch's `local_response_norm`), because
onnxruntime refuses an even-size `LRN` and ONNX's even-size window mirrors PyTorch's.

Checking shapes. Every node of the exported graph records the line of the generated `forward` it
came from, and each of those lines is one layer, so a layer's ONNX value is the last value its
line produces that another line reads. ONNX's shape inference runs on a copy of the graph with the
exporter's annotations removed; where it cannot compute a size (symbolic spatial sizes), the
exporter's own symbolic expression is used. Sizes are compared by evaluating both sides at several
admissible input sizes.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import logging
import math
import operator
import os
import pickle
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.pipeline import Analysis
from alexnet_dsl.backend.build import compile_spec
from alexnet_dsl.backend.codegen import forward_plan, imports_renamed, input_arg, rename_own_names
from alexnet_dsl.extras import EXPORT_NEEDS, needs, require
from alexnet_dsl.files import atomic_write
from alexnet_dsl.ir import expr as E

with needs("`alexnet_dsl.interop.onnx_export`"):  # a missing extra is one line naming its `pip install`
    require(*EXPORT_NEEDS, what="`alexnet_dsl.interop.onnx_export`")  # all that is missing, not the first
    import onnx
    import torch
    import torch.nn.functional as F
    from torch import nn

OPSET = 20
MIN_OPSET = 18  # the oldest the torch.export-based exporter writes
# protobuf cannot serialise a message over 2 GiB; keep room for the graph itself
EXTERNAL_DATA_BYTES = 1_800_000_000


class ExportError(Exception):
    """A spec that checks but cannot be exported as asked (weights that do not fit, a size that
    torch.export cannot keep symbolic). The message is one line."""


# ---------------------------------------------------------------------------- LRN as one ONNX node


@torch.library.custom_op("dslc::onnx_lrn", mutates_args=())
def _lrn_op(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """The paper's LRN (alpha not divided by size) as one opaque op, for the exporter to translate."""
    return F.local_response_norm(x, size, alpha * size, beta, k)


@_lrn_op.register_fake
def _lrn_op_fake(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    return torch.empty_like(x)


def _export_lrn(
    x: torch.Tensor, size: int, alpha: float, beta: float, k: float, *, inplace: bool = False
) -> torch.Tensor:
    """Stands in for a generated module's `_lrn` while it is exported (always out of place)."""
    if size % 2 == 1:
        return torch.ops.dslc.onnx_lrn(x, size, alpha, beta, k)
    return F.local_response_norm(x, size, alpha * size, beta, k)


def _lrn_translation(opset: int) -> Callable:
    """`dslc::onnx_lrn` -> ONNX `LRN`, whose alpha is divided by the size."""
    from onnxscript import values

    op = values.Opset("", opset)

    def lrn(x, size: int, alpha: float, beta: float, k: float):
        return op.LRN(x, size=size, alpha=alpha * size, beta=beta, bias=k)

    return lrn


@contextlib.contextmanager
def _lrn_as_custom_op(model: nn.Module) -> Iterator[None]:
    module = sys.modules[type(model).__module__]
    original = getattr(module, "_lrn", None)
    if original is None:  # a network without LRN
        yield
        return
    module._lrn = _export_lrn  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module._lrn = original  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- ceil-mode pools as floor-mode ones


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _ceil_extra(kernel: int, stride: int, padding: int) -> int:
    """Right padding that makes floor-mode pooling produce PyTorch's ceil-mode windows, for every input size.

    PyTorch: out = floor((in + 2p - k + s - 1) / s) + 1, less one when that last window would start at or past
    `in + p` (in the right padding); the two cases are min(A, B) of floor((in + 2p - k + 2s - 1) / s) and
    floor((in + p + s - 1) / s) (the number of starts left of `in + p`), which is floor((in + c) / s) with
    c the smaller constant. Floor mode over e more padding gives floor((in + 2p + e - k + s) / s): equal for
    e = min(s - 1, k - p - 1), which is >= 0 as PyTorch requires p <= k / 2.

    ONNX's `ceil_mode` cannot stand in: onnx's shape inference applies no such correction (the checker then
    rejects the exporter's own output shape), and runtimes have disagreed about it.
    """
    return min(stride - 1, kernel - padding - 1)


def _export_max_pool2d(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Stands in for `F.max_pool2d` while a generated module is exported: ceil mode becomes -inf padding on
    the right and bottom (a max ignores it, as PyTorch ignores the clipped part of a window) and floor mode."""
    if not ceil_mode or return_indices or _pair(dilation) != (1, 1):
        return F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    k, s, p = _pair(kernel_size), _pair(kernel_size if stride is None else stride), _pair(padding)
    extra = [_ceil_extra(k[1], s[1], p[1]), _ceil_extra(k[0], s[0], p[0])]
    x = F.pad(x, [0, extra[0], 0, extra[1]], value=-math.inf)
    return F.max_pool2d(x, k, s, p)


def _export_avg_pool2d(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
) -> torch.Tensor:
    """Stands in for `F.avg_pool2d` while a generated module is exported. In ceil mode PyTorch divides by the
    part of a window inside input and padding (`count_include_pad`) or inside the input alone, never by the
    part past the padding, which floor mode over more padding would count: the sum and the count are pooled
    separately (zero padding, floor mode) and divided."""
    if not ceil_mode or divisor_override is not None:
        return F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    k, s, p = _pair(kernel_size), _pair(kernel_size if stride is None else stride), _pair(padding)
    extra = [_ceil_extra(k[1], s[1], p[1]), _ceil_extra(k[0], s[0], p[0])]
    pads = [p[1], p[1] + extra[0], p[0], p[0] + extra[1]]
    total = F.avg_pool2d(F.pad(x, pads), k, s)  # the window's sum / (k_h k_w)
    # what PyTorch counts: the input, and its padding with count_include_pad
    ones = torch.ones_like(x[:1, :1])
    if count_include_pad:
        counted = F.pad(F.pad(ones, [p[1], p[1], p[0], p[0]], value=1.0), [0, extra[0], 0, extra[1]])
    else:
        counted = F.pad(ones, pads)
    return total / F.avg_pool2d(counted, k, s)


class _PoolsForExport:
    """`torch.nn.functional` with `max_pool2d` and `avg_pool2d` replaced, for a generated module's `F`."""

    max_pool2d = staticmethod(_export_max_pool2d)
    avg_pool2d = staticmethod(_export_avg_pool2d)

    def __getattr__(self, name: str):
        return getattr(F, name)


@contextlib.contextmanager
def _floor_mode_pools(model: nn.Module) -> Iterator[None]:
    """Swap the generated module's `F` for `_PoolsForExport` during the export (as `_lrn_as_custom_op` does)."""
    module = sys.modules[type(model).__module__]
    # `F`, or `_F` where the network itself is called `F` (codegen renames its own import then)
    alias = next(name for name, value in vars(module).items() if value is F)
    setattr(module, alias, _PoolsForExport())
    try:
        yield
    finally:
        setattr(module, alias, F)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.export logs a page of solver traces for every guard it cannot simplify, and the
    exporter warns about its own internals."""
    names = (
        "torch.fx.experimental.symbolic_shapes",
        "torch.export",
        "torch._dynamo",
        "torch.onnx",
        "onnxscript",
    )
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # torch's deprecations and notes from inside the exporter: nothing a user can act on
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ShapeCheck:
    """One layer's shape as dslc infers it and as ONNX does (None where ONNX cannot say)."""

    layer: str
    value: str  # the ONNX value holding the layer's output
    ours: tuple[E.Size, ...]
    theirs: tuple[int | str | None, ...] | None  # None: ONNX gives no shape at all
    agree: bool | None  # None: nothing contradicts, but ONNX knows too little to confirm

    def describe(self) -> str:
        ours = "[" + ", ".join(E.show(d) for d in self.ours) + "]"
        if self.theirs is None:
            return f"`{self.layer}`: dslc infers {ours}, ONNX gives no shape"
        theirs = "[" + ", ".join("?" if d is None else str(d) for d in self.theirs) + "]"
        return f"`{self.layer}`: dslc infers {ours}, ONNX infers {theirs} (value `{self.value}`)"


@dataclass
class ExportResult:
    """What `export_onnx` wrote and what it checked."""

    path: Path
    network: str
    opset: int
    input_name: str
    input_dims: tuple[int | str, ...]
    output_dims: tuple[int | str, ...]
    dynamic: tuple[str, ...]
    nodes: int
    lrn_nodes: int
    external_data: bool
    checks: list[ShapeCheck] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # layers with no ONNX value of their own

    @property
    def disagreements(self) -> list[ShapeCheck]:
        return [c for c in self.checks if c.agree is False]

    def summary(self) -> str:
        """Two lines for the command line."""
        shown = "[" + ", ".join(str(d) for d in self.input_dims) + "]"
        out = "[" + ", ".join(str(d) for d in self.output_dims) + "]"
        dyn = f"; dynamic: {', '.join(self.dynamic)}" if self.dynamic else "; all sizes fixed"
        lrn = f" ({self.lrn_nodes} LRN)" if self.lrn_nodes else ""
        first = (
            f"{self.path}: {self.network}, opset {self.opset}, {self.nodes} nodes{lrn}, "
            f"`{self.input_name}` {shown} -> {out}{dyn}"
        )
        confirmed = sum(c.agree is True for c in self.checks)
        partial = sum(c.agree is None for c in self.checks)
        second = f"shapes: {confirmed} of {len(self.checks)} layer outputs agree with ONNX"
        if partial:
            second += f", {partial} partly unknown to ONNX"
        if self.disagreements:
            second += f", {len(self.disagreements)} disagree"
        if self.absent:
            shown = ", ".join(self.absent[:5]) + (
                f" and {len(self.absent) - 5} more" if len(self.absent) > 5 else ""
            )
            second += f"; {len(self.absent)} without an ONNX value of their own (folded or no-ops): {shown}"
        return first + "\n" + second


# ---------------------------------------------------------------------------- export


def export_onnx(
    spec, path, weights=None, sizes: dict[str, int] | None = None, *, opset: int = OPSET
) -> ExportResult:
    """Compile `spec` (a path, its text, or a checked `Analysis`) with the torch backend and write
    it to `path` as an ONNX model, checked with `onnx.checker`.

    weights: a path to a `torch.save`d state_dict, or a state_dict; the default is PyTorch's
        initialisation. sizes: values for symbolic input sizes (those become fixed sizes).

    Raises `DslError` for a spec that does not check, `ExportError` when the weights do not fit or
    the export fails. Shape disagreements with ONNX do not raise: see `.disagreements`.
    """
    if not MIN_OPSET <= opset <= max_opset():
        raise ValueError(f"opset must be in {MIN_OPSET}..{max_opset()}, got {opset}")
    sizes = dict(sizes or {})
    model = compile_spec(spec, backend="torch", **sizes)
    analysis: Analysis = model._dslc_analysis
    net = analysis.network
    assert net is not None
    if weights is not None:
        load_weights(model, weights)
    model.eval()

    proto, dynamic = _export(model, analysis, opset)
    values = _layer_values(proto, model, analysis)
    checks = compare_shapes(analysis, proto, values)
    absent = [la.display_name for la in net.layers if la.name not in values]

    big = sum(p.numel() * p.element_size() for p in model.state_dict().values()) > EXTERNAL_DATA_BYTES
    target = Path(path)
    try:
        if not big:
            onnx.checker.check_model(proto, full_check=True)
        # never over the spec or the weights it came from
        files = [analysis.source.path, *([weights] if isinstance(weights, (str, os.PathLike)) else [])]
        inputs = tuple(p for p in map(Path, files) if p.is_file())
        _write_model(proto, target, external=big, inputs=inputs)
        if big:  # the checker reads a model over 2 GiB from its files
            onnx.checker.check_model(str(target), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise ExportError(f"onnx.checker rejects the exported model: {_first_line(e)}") from e

    out_dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    return ExportResult(
        path=target,
        network=net.name,
        opset=opset,
        input_name=proto.graph.input[0].name,
        input_dims=tuple(d if isinstance(d, int) else str(d) for d in net.input_dims),
        output_dims=tuple(out_dims),
        dynamic=tuple(dynamic),
        nodes=len(proto.graph.node),
        lrn_nodes=sum(n.op_type == "LRN" for n in proto.graph.node),
        external_data=big,
        checks=checks,
        absent=absent,
    )


def _export(model: nn.Module, analysis: Analysis, opset: int) -> tuple[onnx.ModelProto, list[str]]:
    """The ONNX model of a compiled module, and the names of its dynamic input sizes."""
    net = analysis.network
    assert net is not None
    example, dims, dynamic = _example_input(analysis)
    with _quiet(), _lrn_as_custom_op(model), _floor_mode_pools(model):
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamic_shapes={_forward_arg(model): dims},
                opset_version=opset,
                external_data=False,
                verbose=False,
                custom_translation_table={torch.ops.dslc.onnx_lrn.default: _lrn_translation(opset)},
            )
        except Exception as e:
            spatial = [s for s in dynamic if s != net.batch]
            first = _first_line(e)
            if spatial:
                example_sizes = ",".join(f"{s}={_example_size(analysis, s)}" for s in spatial)
                raise ExportError(
                    f"torch.export cannot keep {', '.join(f'`{s}`' for s in spatial)} symbolic "
                    f"({first}); bind {'it' if len(spatial) == 1 else 'them'} with "
                    f"--sizes {example_sizes}"
                ) from e
            raise ExportError(f"the export failed: {first}") from e
    proto = program.model_proto
    _rename_input(proto, net.input_name)
    proto.graph.name = net.name
    proto.doc_string = f"{net.name} from {Path(analysis.source.path).name}, exported by dslc {__version__}"
    if analysis.admissible:
        onnx.helper.set_model_props(
            proto,
            {"dslc.admissible": "; ".join(f"{s} in {v.describe()}" for s, v in analysis.admissible.items())},
        )
    return proto, dynamic


def _rename_input(proto: onnx.ModelProto, name: str) -> None:
    """Name the graph's input after the spec's input: the exporter takes the name of `forward`'s
    parameter, which is `class_` for an input called `class`. A value the exporter already gave that
    name (it names values after ops: `relu`, `conv2d`) is renamed first."""
    graph = proto.graph
    old = graph.input[0].name
    if old == name:
        return
    values = {v for node in graph.node for v in (*node.input, *node.output)}
    values |= {v.name for v in (*graph.input, *graph.output, *graph.value_info, *graph.initializer)}
    if name in values:
        fresh = next(f"{name}_{k}" for k in itertools.count(1) if f"{name}_{k}" not in values)
        _rename_value(graph, name, fresh)
    _rename_value(graph, old, name)


def _rename_value(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for names in (node.input, node.output):
            for i, value in enumerate(names):
                if value == old:
                    names[i] = new
    for v in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        if v.name == old:
            v.name = new


def max_opset() -> int:
    """The newest opset the installed onnx knows."""
    return onnx.defs.onnx_opset_version()


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    # torch.export puts its advice first and the cause under "Exception summary"
    for i, ln in enumerate(lines):
        if ln.startswith("## Exception summary") and i + 1 < len(lines):
            return lines[i + 1][:300]
    return (lines[0] if lines else type(e).__name__)[:300]


def _forward_arg(model: nn.Module) -> str:
    """The generated forward's parameter: the spec's input name, mangled where it would clash."""
    import inspect

    params = list(inspect.signature(model.forward).parameters)
    assert len(params) == 1, f"a generated forward takes one tensor, not {params}"
    return params[0]


def _example_size(analysis: Analysis, symbol: str) -> int:
    """A small admissible size to trace with; 0 and 1 are avoided because torch.export fixes them."""
    allowed = analysis.admissible.get(symbol)
    if allowed is None:
        return 2
    lo = max(allowed.ranges[0][0], 2)
    for x in range(lo, lo + 10_000):
        if allowed.contains(x):
            return x
    return allowed.ranges[0][0]


def _example_input(analysis: Analysis) -> tuple[torch.Tensor, dict[int, object], list[str]]:
    """An example input, torch.export's dynamic dims for it, and the names of the dynamic symbols."""
    net = analysis.network
    assert net is not None
    sizes: list[int] = []
    dims: dict[int, object] = {}
    made: dict[str, object] = {}
    for i, d in enumerate(net.input_dims):
        if isinstance(d, int):
            sizes.append(d)
            continue
        assert isinstance(d, str), f"the input of a checked network has no `_` dims: {net.input_dims}"
        if d not in made:
            allowed = analysis.admissible.get(d)
            if allowed is None:  # the batch
                made[d] = torch.export.Dim(d, min=1)
            else:
                lo, hi = allowed.ranges[0][0], allowed.ranges[-1][1]
                made[d] = (
                    torch.export.Dim(d, min=max(lo, 1))
                    if hi is None
                    else torch.export.Dim(d, min=max(lo, 1), max=hi)
                )
        dims[i] = made[d]
        sizes.append(_example_size(analysis, d))
    return torch.randn(*sizes), dims, list(made)


# ---------------------------------------------------------------------------- weights


def load_weights(model: nn.Module, weights) -> None:
    """Load a state_dict (or a path to a `torch.save`d one) into `model`; ExportError with the
    mismatched names and shapes when it does not fit."""
    name = "the weights"
    if isinstance(weights, (str, os.PathLike)):
        name = f"the weights in `{weights}`"
        try:
            weights = torch.load(weights, map_location="cpu", weights_only=True)
        except OSError as e:
            raise ExportError(f"cannot read {name}: {e.strerror or e}") from None
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
            raise ExportError(
                f"{name} is not a state_dict saved with torch.save(model.state_dict()): {_first_line(e)}"
            ) from None
    if not isinstance(weights, Mapping) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ExportError(f"{name} is not a state_dict (a mapping of names to tensors)")
    state = dict(weights)
    for prefix in ("module.", "_orig_mod."):  # saved from DistributedDataParallel or torch.compile
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    expected = model.state_dict()
    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append("missing " + _few(missing))
    if unexpected:
        problems.append("unexpected " + _few(unexpected))
    for k, v in state.items():
        if k in expected and v.shape != expected[k].shape:
            problems.append(f"`{k}` is {list(v.shape)}, the spec needs {list(expected[k].shape)}")
    if problems:
        network = type(model).__name__
        raise ExportError(
            f"{name} do not fit `{network}`: "
            + "; ".join(problems[:4])
            + ("; ..." if len(problems) > 4 else "")
        )
    model.load_state_dict(state)


def _few(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


# ---------------------------------------------------------------------------- writing


def _write_model(
    proto: onnx.ModelProto, target: Path, *, external: bool, inputs: tuple[Path, ...] = ()
) -> None:
    """Never a partial model: one atomic write, or (over 2 GiB) the weights file first and the model
    through a rename."""
    if not external:
        atomic_write(target, proto.SerializeToString(), inputs=inputs)
        return
    directory = target.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        onnx.save_model(
            proto,
            tmp,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=target.name + ".data",
        )
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------- layers -> ONNX values


def _layer_values(proto: onnx.ModelProto, model: nn.Module, analysis: Analysis) -> dict[str, str]:
    """Layer name -> the ONNX value holding its output, found through the forward line of each node."""
    net = analysis.network
    assert net is not None
    line_layer = _forward_lines(model, analysis)
    filename = sys.modules[type(model).__module__].__file__
    where = re.compile(rf'File "{re.escape(filename or "")}", line (\d+), in forward')
    produced: dict[int, list[str]] = {}
    line_of: dict[str, int] = {}
    for node in proto.graph.node:
        trace = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.stack_trace"), "")
        m = where.search(trace)
        if m is None or int(m.group(1)) not in line_layer:
            continue
        line = int(m.group(1))
        for out in node.output:
            if out:
                produced.setdefault(line, []).append(out)
                line_of[out] = line
    read_elsewhere = {name for name in (o.name for o in proto.graph.output)}
    for node in proto.graph.node:
        for name in node.input:
            if name in line_of:
                trace = next(
                    (p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.stack_trace"), ""
                )
                m = where.search(trace)
                if m is None or int(m.group(1)) != line_of[name]:
                    read_elsewhere.add(name)
    # a line may also compute sizes (int64 scalars for a reshape, symbolic checks): keep tensors of
    # the layer's rank
    ranks = {i.layer.name: len(i.shape) for i in analysis.infos if i.shape is not None}
    types = {v.name: v.type.tensor_type for v in [*proto.graph.value_info, *proto.graph.output]}
    values: dict[str, str] = {}
    for line, outs in produced.items():
        layer = line_layer[line]
        outs = [
            o
            for o in outs
            if o not in types
            or (types[o].elem_type == onnx.TensorProto.FLOAT and len(types[o].shape.dim) == ranks.get(layer))
        ]
        leaving = [o for o in outs if o in read_elsewhere]
        if outs:
            values[layer] = (leaving or outs)[-1]
    # the network's output is the graph's output, whatever became of the nodes' metadata
    values[net.output_layer] = proto.graph.output[0].name
    return values


def _forward_lines(model: nn.Module, analysis: Analysis) -> dict[int, str]:
    """Line number in the generated source -> the layer computed there (codegen writes one
    statement per layer, `codegen.forward_plan`, in order, among a few statements of its own)."""
    net = analysis.network
    assert net is not None
    lines = model._dslc_source.splitlines()
    number = next(i for i, ln in enumerate(lines) if ln.startswith("    def forward(")) + 1
    out: dict[int, str] = {}
    renamed = imports_renamed(net)
    for step in forward_plan(net, input_arg(net), "torch"):
        statement = "        " + rename_own_names(f"{step.out} = {step.code}", renamed)
        while not lines[number - 1].startswith(statement):
            number += 1
            assert number <= len(lines), f"no line computes `{step.layer}` in the generated forward"
        out[number] = step.layer
        number += 1
    return out


# ---------------------------------------------------------------------------- comparing shapes


def compare_shapes(analysis: Analysis, proto: onnx.ModelProto, values: Mapping[str, str]) -> list[ShapeCheck]:
    """Compare our shape of each mapped layer with ONNX's shape inference (on a copy of the graph
    without the exporter's annotations), falling back to the exporter's symbolic sizes where ONNX's
    inference leaves a size unknown."""
    net = analysis.network
    assert net is not None
    annotated = _value_shapes(proto)
    bare = _without_weights(proto)
    del bare.graph.value_info[:]
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = _value_shapes(onnx.shape_inference.infer_shapes(bare, strict_mode=True, data_prop=True))
    except onnx.shape_inference.InferenceError as e:
        raise ExportError(f"ONNX's shape inference fails on the exported model: {_first_line(e)}") from e
    inputs = {d.dim_param for i in proto.graph.input for d in i.type.tensor_type.shape.dim if d.dim_param}
    envs = _sample_envs(analysis, inputs)
    shapes = {i.layer.name: i.shape for i in analysis.infos}
    order = [la.name for la in net.layers]
    checks = []
    for name in sorted(values, key=order.index):
        ours = shapes.get(name)
        if ours is None:
            continue
        value = values[name]
        theirs = _merge(inferred.get(value), annotated.get(value), inputs)
        layer = next(la for la in net.layers if la.name == name)
        checks.append(ShapeCheck(layer.display_name, value, tuple(ours), theirs, _agree(ours, theirs, envs)))
    return checks


def _without_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose large initializers are graph inputs of the same type: shape inference needs
    their shapes only, and copying 240 MB of AlexNet's weights through protobuf takes seconds."""
    bare = onnx.ModelProto()
    bare.CopyFrom(
        onnx.ModelProto(
            ir_version=proto.ir_version, opset_import=proto.opset_import, functions=proto.functions
        )
    )
    graph = onnx.GraphProto()
    graph.CopyFrom(
        onnx.GraphProto(
            name=proto.graph.name, node=proto.graph.node, input=proto.graph.input, output=proto.graph.output
        )
    )
    for init in proto.graph.initializer:
        if len(init.raw_data) > 4096:
            graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            graph.initializer.append(init)
    bare.graph.CopyFrom(graph)
    return bare


def _value_shapes(proto: onnx.ModelProto) -> dict[str, tuple[int | str | None, ...] | None]:
    out: dict[str, tuple[int | str | None, ...] | None] = {}
    for v in [*proto.graph.value_info, *proto.graph.output, *proto.graph.input]:
        t = v.type.tensor_type
        if not t.HasField("shape"):
            out[v.name] = None
            continue
        out[v.name] = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
            for d in t.shape.dim
        )
    return out


def _merge(inferred, annotated, inputs: set[str]) -> tuple[int | str | None, ...] | None:
    """ONNX's inferred sizes; its unknown ones (`unk__3`) from the exporter's annotation."""
    if inferred is None:
        return annotated
    if annotated is None or len(annotated) != len(inferred):
        return tuple(d if isinstance(d, int) or d in inputs else None for d in inferred)
    merged: list[int | str | None] = []
    for d, a in zip(inferred, annotated):
        merged.append(d if isinstance(d, int) or d in inputs else a)
    return tuple(merged)


def _sample_envs(analysis: Analysis, inputs: set[str]) -> list[dict[str, int]]:
    """A few admissible values for every symbol of the input, zipped into environments."""
    net = analysis.network
    assert net is not None
    samples: dict[str, list[int]] = {}
    for d in net.input_dims:
        if isinstance(d, str) and d not in samples:
            allowed = analysis.admissible.get(d)
            if allowed is None:
                samples[d] = [1, 2, 3, 64]
            else:
                lo = allowed.ranges[0][0]
                found = [x for x in range(lo, lo + 4096) if allowed.contains(x)]
                samples[d] = (found[:3] + found[-1:]) or [lo]
    width = max((len(v) for v in samples.values()), default=1)
    zipped = [{s: v[k % len(v)] for s, v in samples.items()} for k in range(width)]
    if not analysis.couplings:
        return zipped
    # sizes tied to each other: only combinations that satisfy the ties are inputs the network accepts
    names = list(samples)
    combos = (dict(zip(names, values)) for values in itertools.product(*(samples[n] for n in names)))
    valid = [env for env in itertools.islice(combos, 4096) if all(c.holds(env) for c in analysis.couplings)]
    return valid[:8] or zipped


def _agree(ours, theirs, envs: list[dict[str, int]]) -> bool | None:
    if theirs is None:
        return None
    if len(ours) != len(theirs):
        return False
    unknown = False
    for d, t in zip(ours, theirs):
        if t is None:
            unknown = True
            continue
        for env in envs:
            ours_v = E.evaluate(d, env)
            theirs_v = t if isinstance(t, int) else _evaluate(t, env)
            if theirs_v is None:
                unknown = True
                break
            if ours_v != theirs_v:
                return False
    return None if unknown else True


_BINARY: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CALLS: dict[str, Callable] = {
    "floor": math.floor,
    "ceiling": math.ceil,
    "ceil": math.ceil,
    "Max": max,
    "Min": min,
    "max": max,
    "min": min,
    "FloorDiv": operator.floordiv,
    "CeilToInt": math.ceil,
    "FloorToInt": math.floor,
}


def _evaluate(text: str, env: dict[str, int]) -> int | None:
    """A symbolic size as the exporter writes it (`((H - 5)//2) + 1`) at `env`; None when it uses
    anything else."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        if isinstance(node, ast.Name) and node.id in env:
            return Fraction(env[node.id])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return Fraction(_BINARY[type(node.op)](ev(node.left), ev(node.right)))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CALLS
            and not node.keywords
        ):
            return Fraction(_CALLS[node.func.id](*(ev(a) for a in node.args)))
        raise ValueError(ast.dump(node))

    try:
        value = ev(tree)
    except (ValueError, ZeroDivisionError, TypeError):
        return None
    return int(value) if value.denominator == 1 else None
