"""Checked spec -> a live `nn.Module`: generate its source (codegen.py) and execute it.

Executing the generated source, rather than interpreting the IR, means `alexnet_dsl.compile` and
`dslc compile` produce the same network by construction.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import types
import warnings

from alexnet_dsl import ir
from alexnet_dsl.analysis.pipeline import bind, check_source
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import input_shape
from alexnet_dsl.backend.budget import DEFAULT_BUDGET, budget_bytes, check_budget, default_budget
from alexnet_dsl.backend.codegen import BACKENDS, generate_module
from alexnet_dsl.backend.names import class_name
from alexnet_dsl.diagnostics import Diagnostic, DslError, DslWarning, Severity, error
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Source


def analyse(spec: str | os.PathLike | Analysis, sizes: dict[str, int]) -> Analysis:
    """Check a spec (and bind sizes); raise DslError unless it checks and its parameters are known."""
    analysis = spec if isinstance(spec, Analysis) else check_source(Source.load(spec))
    if not analysis.ok:
        raise DslError(analysis.errors, analysis.source)
    if sizes:
        analysis = bind(analysis, sizes)
        if not analysis.ok:
            raise DslError(analysis.errors, analysis.source)
    unbound = [i.layer for i in analysis.infos if i.params is None]
    if unbound:
        raise DslError([_unbound_parameters(analysis, unbound)], analysis.source)
    return analysis


def _unbound_parameters(analysis: Analysis, unbound: list[ir.Layer]) -> Diagnostic:
    """E0311 on the first layer whose parameter shapes depend on an input size, naming the sizes to bind."""
    net = analysis.network
    assert net is not None
    first = unbound[0]
    # a layer's parameters depend on the size of its input's dim 1 (channels or features)
    shapes = {i.layer.name: i.shape for i in analysis.infos}
    shapes[net.input_name] = input_shape(net)
    source = shapes.get(first.inputs[0]) if first.inputs else None
    symbols = sorted(E.symbols(source[1])) if source is not None and len(source) > 1 else []
    symbols = symbols or sorted(net.symbols)
    example = ", ".join(
        f"{s}={analysis.admissible[s].ranges[0][0] if s in analysis.admissible else 1}" for s in symbols
    )
    return error(
        "E0311",
        f"the parameters of `{first.display_name}` depend on {', '.join(f'`{s}`' for s in symbols)}",
        first.op_span,
        notes=(f"{len(unbound)} layer(s) have parameter shapes that depend on an input size",),
        helps=(
            f"bind the sizes: compile(spec, {example}) or `dslc compile --sizes {example.replace(', ', ',')}`",
        ),
    )


def resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return backend
    from alexnet_dsl.kernels import triton_available

    ok, why = triton_available()
    if backend == "triton" and not ok:
        from alexnet_dsl.extras import require

        require("triton", what="the triton backend")  # not installed: name the extra
        raise RuntimeError(f"the triton backend cannot run here: {why}")
    if backend == "auto" and not ok:
        return "torch"  # auto means Triton where it can run, PyTorch ops elsewhere
    return backend


def instantiate(source_code: str, cls: str, filename: str):
    """Execute generated source as a module of its own and return the class it defines."""
    digest = hashlib.sha256(source_code.encode()).hexdigest()[:12]
    name = f"alexnet_dsl.generated.{cls}_{digest}"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__file__ = f"<dslc {filename}>"
        code = compile(source_code, module.__file__, "exec")
        linecache.cache[module.__file__] = (
            len(source_code),
            None,
            source_code.splitlines(True),
            module.__file__,
        )
        exec(code, module.__dict__)
        sys.modules[name] = module
    return getattr(module, cls)


def compile_spec(
    spec, *, backend: str = "auto", init: str = "default", memory_budget=DEFAULT_BUDGET, **sizes
):
    """See `alexnet_dsl.compile`."""
    analysis = analyse(spec, sizes)
    for d in analysis.diagnostics:
        if d.severity is Severity.WARNING:
            warnings.warn(
                DslWarning(d, analysis.source), stacklevel=3
            )  # at the caller of alexnet_dsl.compile
    budget = default_budget() if memory_budget is DEFAULT_BUDGET else budget_bytes(memory_budget)
    check_budget(analysis, budget)
    resolved = resolve_backend(backend)
    generated = generate_module(analysis, backend=resolved, init=init)
    net = analysis.network
    assert net is not None
    model = instantiate(generated.source, class_name(net.name), analysis.source.path)()
    # `_dslc_*` cannot clash with a layer's name (names.mangle); the public `dslc_*` give way to a
    # layer of the same name, as the generated methods' public names do
    taken = {layer.name.split(".")[0] for layer in net.layers}
    for key, value in (
        ("source", generated.source),
        ("backend", resolved),
        ("analysis", analysis),
        ("layer_lines", generated.layer_lines),  # the source map: `codegen.Generated.layer_lines`
    ):
        setattr(model, f"_dslc_{key}", value)
        if f"dslc_{key}" not in taken:
            setattr(model, f"dslc_{key}", value)
    return model


def attached(model, key: str):
    """What `compile_spec` attached to `model` as `dslc_{key}` (`source`, `backend`, `analysis` or
    `layer_lines`), read where no layer of that name can hide it (`_dslc_{key}`); None for a module it did
    not make."""
    return getattr(model, f"_dslc_{key}", None)
