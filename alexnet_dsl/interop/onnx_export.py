"""`dslc export --onnx`: a compiled spec as an ONNX model whose shapes are checked against ONNX's.

    spec -> compile (torch backend) -> torch.export -> torch.onnx -> onnx.checker
         -> ONNX's shape inference, compared with ours layer by layer (`onnx_shapes`)

The batch, and every input symbol that no parameter depends on, stays a dynamic axis named after
the symbol (`N`, `H`, ...); symbols bound with `sizes` become fixed sizes. LRN and ceil-mode pools
are exported through stand-ins (`onnx_ops`).

Every node of the exported graph records the line of the generated `forward` it came from, and
each of those lines is one layer, so a layer's ONNX value is the last value its line produces that
another line reads.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.backend.build import attached, compile_spec
from alexnet_dsl.extras import EXPORT_NEEDS, needs, require
from alexnet_dsl.files import atomic_write
from alexnet_dsl.interop.errors import ExportError, first_line

# a missing extra is one line naming its `pip install`, and all that is missing, not the first: checked
# before the modules below import torch and onnx
with needs("`alexnet_dsl.interop.onnx_export`"):
    require(*EXPORT_NEEDS, what="`alexnet_dsl.interop.onnx_export`")
    import onnx
    import torch
    from torch import nn

    from alexnet_dsl.interop.onnx_ops import floor_mode_pools, lrn_as_custom_op, translation_table
    from alexnet_dsl.interop.onnx_shapes import ShapeCheck, compare_shapes
    from alexnet_dsl.interop.weights import load_weights

OPSET = 20
MIN_OPSET = 18  # the oldest the torch.export-based exporter writes
# protobuf cannot serialise a message over 2 GiB; keep room for the graph itself
EXTERNAL_DATA_BYTES = 1_800_000_000


# ---------------------------------------------------------------------------- results


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
    spec, path, weights=None, sizes: dict[str, int] | None = None, *, opset: int | None = None
) -> ExportResult:
    """Compile `spec` (a path, its text, or a checked `Analysis`) with the torch backend and write
    it to `path` as an ONNX model, checked with `onnx.checker`.

    weights: a path to a `torch.save`d state_dict, or a state_dict; the default is PyTorch's
        initialisation. sizes: values for symbolic input sizes (those become fixed sizes).
        opset: the ONNX opset, from MIN_OPSET to the newest the installed onnx knows (`max_opset`); None
        is OPSET.

    Raises `DslError` for a spec that does not check, `ExportError` when the weights do not fit or
    the export fails. Shape disagreements with ONNX do not raise: see `.disagreements`.
    """
    opset = OPSET if opset is None else opset
    if not MIN_OPSET <= opset <= max_opset():
        raise ValueError(f"opset must be in {MIN_OPSET}..{max_opset()}, got {opset}")
    sizes = dict(sizes or {})
    model = compile_spec(spec, backend="torch", **sizes)
    analysis: Analysis = attached(model, "analysis")
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
        raise ExportError(f"onnx.checker rejects the exported model: {first_line(e)}") from e

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
    with _quiet(), lrn_as_custom_op(model), floor_mode_pools(model):
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamic_shapes={_forward_arg(model): dims},
                opset_version=opset,
                external_data=False,
                verbose=False,
                custom_translation_table=translation_table(opset),
            )
        except Exception as e:
            spatial = [s for s in dynamic if s != net.batch]
            first = first_line(e)
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


def _write_model(proto: onnx.ModelProto, target: Path, *, external: bool, inputs: tuple[Path, ...]) -> None:
    """Never a partial model: one atomic write, or (over 2 GiB) the weights file beside it first and the
    model through the same atomic rename."""
    if not external:
        atomic_write(target, proto.SerializeToString(), inputs=inputs)
        return

    def save(tmp: str) -> None:
        onnx.save_model(
            proto,
            tmp,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=target.name + ".data",
        )

    atomic_write(target, save, inputs=inputs)


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


# ---------------------------------------------------------------------------- layers -> ONNX values


def _layer_values(proto: onnx.ModelProto, model: nn.Module, analysis: Analysis) -> dict[str, str]:
    """Layer name -> the ONNX value holding its output, found through the forward line of each node."""
    net = analysis.network
    assert net is not None
    line_layer = attached(model, "layer_lines")  # codegen's source map: line of `forward` -> layer
    line_of_node = _forward_line_finder(sys.modules[type(model).__module__].__file__)
    produced: dict[int, list[str]] = {}
    line_of: dict[str, int] = {}
    for node in proto.graph.node:
        line = line_of_node(node)
        if line not in line_layer:
            continue
        for out in node.output:
            if out:
                produced.setdefault(line, []).append(out)
                line_of[out] = line
    read_elsewhere = {name for name in (o.name for o in proto.graph.output)}
    for node in proto.graph.node:
        for name in node.input:
            if name in line_of and line_of_node(node) != line_of[name]:
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


def _forward_line_finder(filename: str | None) -> Callable[[onnx.NodeProto], int | None]:
    """node -> the line of the generated `forward` (in `filename`) it came from, from the stack trace the
    exporter records in the node's metadata; None for a node from elsewhere."""
    where = re.compile(rf'File "{re.escape(filename or "")}", line (\d+), in forward')

    def line(node: onnx.NodeProto) -> int | None:
        trace = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.stack_trace"), "")
        m = where.search(trace)
        return None if m is None else int(m.group(1))

    return line
