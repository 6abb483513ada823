"""Checked spec -> a live `nn.Module`: generate its source (codegen.py) and execute it.

Executing the generated source, rather than interpreting the IR, means `alexnet_dsl.compile` and
`dslc compile` produce the same network by construction.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import re
import sys
import types
import warnings
from pathlib import Path

from . import expr as E
from .analysis import Analysis, bind, check_source
from .codegen import BACKENDS, class_name, generate
from .diagnostics import DslError, DslWarning, Severity, error
from .shapes import input_shape
from .source import Source

_DEFAULT = object()


def load(spec: str | os.PathLike) -> Source:
    """A path (`str` naming an existing file, or `Path`) or the spec text itself."""
    if isinstance(spec, os.PathLike):
        return Source.from_file(spec)
    if isinstance(spec, str):
        one_line = "\n" not in spec and len(spec) < 4096
        if one_line and Path(spec).is_file():
            return Source.from_file(spec)
        if one_line and "{" not in spec and spec.strip().endswith(".net"):
            raise FileNotFoundError(f"no spec file {spec!r}")
        return Source("<string>", spec)
    raise TypeError(f"spec must be a path or the text of a spec, not {type(spec).__name__}")


def analyse(spec: str | os.PathLike | Analysis, sizes: dict[str, int]) -> Analysis:
    """Check a spec (and bind sizes); raise DslError unless it checks and its parameters are known."""
    analysis = spec if isinstance(spec, Analysis) else check_source(load(spec))
    if not analysis.ok:
        raise DslError(analysis.errors, analysis.source)
    if sizes:
        analysis = bind(analysis, sizes)
        if not analysis.ok:
            raise DslError(analysis.errors, analysis.source)
    unbound = [i for i in analysis.infos if i.params is None]
    if unbound:
        net = analysis.network
        assert net is not None
        first = unbound[0].layer
        # a layer's parameters depend on the size of its input's dim 1 (channels or features)
        shapes = {i.layer.name: i.shape for i in analysis.infos}
        shapes[net.input_name] = input_shape(net)
        source = shapes.get(first.inputs[0]) if first.inputs else None
        symbols = sorted(E.symbols(source[1])) if source is not None and len(source) > 1 else []
        symbols = symbols or sorted(net.symbols)
        example = ", ".join(f"{s}={analysis.admissible[s].ranges[0][0] if s in analysis.admissible else 1}"
                            for s in symbols)
        raise DslError([error(
            "E0311",
            f"the parameters of `{first.display_name}` depend on {', '.join(f'`{s}`' for s in symbols)}",
            first.op_span,
            notes=(f"{len(unbound)} layer(s) have parameter shapes that depend on an input size",),
            helps=(f"bind the sizes: compile(spec, {example}) or `dslc compile --sizes "
                   f"{example.replace(', ', ',')}`",),
        )], analysis.source)
    return analysis


def parse_budget(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"a memory budget is a number of bytes, optionally with K, M, G or T: {text!r}")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


def default_budget() -> int:
    env = os.environ.get("DSLC_MEMORY_BUDGET")
    if env:
        return parse_budget(env)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return total // 2


def check_budget(analysis: Analysis, budget: int | None) -> None:
    """Refuse, before allocating anything, a network whose parameters would not fit the budget."""
    if budget is None:
        return
    params = analysis.params or 0
    activations = sum(i.activation_bytes or 0 for i in analysis.infos)
    need = params * 4 * 2 + activations  # weights, their gradients' worth of headroom, one sample
    if need > budget:
        raise DslError([error(
            "E0312",
            f"`{analysis.network.name}` needs about {need / 2**30:.2f} GiB, over the budget of "  # type: ignore[union-attr]
            f"{budget / 2**30:.2f} GiB",
            analysis.network.name_span,  # type: ignore[union-attr]
            notes=(f"{params:,} parameters ({params * 4 / 2**30:.2f} GiB as float32, twice for training) and "
                   f"{activations / 2**20:.1f} MiB of activations per sample",),
            helps=("raise the budget: compile(spec, memory_budget=BYTES) or DSLC_MEMORY_BUDGET=64G; "
                   "memory_budget=None turns the guard off",),
        )], analysis.source)


def resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return backend
    from .kernels import triton_available

    ok, why = triton_available()
    if backend == "triton" and not ok:
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
        linecache.cache[module.__file__] = (len(source_code), None, source_code.splitlines(True), module.__file__)
        exec(code, module.__dict__)
        sys.modules[name] = module
    return getattr(module, cls)


def compile_spec(spec, *, backend: str = "auto", init: str = "default", memory_budget=_DEFAULT, **sizes):
    """See `alexnet_dsl.compile`."""
    analysis = analyse(spec, sizes)
    for d in analysis.diagnostics:
        if d.severity is Severity.WARNING:
            warnings.warn(DslWarning(d, analysis.source), stacklevel=3)  # at the caller of alexnet_dsl.compile
    budget = default_budget() if memory_budget is _DEFAULT else memory_budget
    if isinstance(budget, str):
        budget = parse_budget(budget)
    check_budget(analysis, budget)
    resolved = resolve_backend(backend)
    source_code = generate(analysis, backend=resolved, init=init)
    cls = instantiate(source_code, class_name(analysis.network.name), analysis.source.path)  # type: ignore[union-attr]
    model = cls()
    model.dslc_source = source_code
    model.dslc_backend = resolved
    model.dslc_analysis = analysis
    return model
