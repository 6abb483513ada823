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

from alexnet_dsl.analysis.pipeline import Analysis, bind, check_source
from alexnet_dsl.analysis.shapes import input_shape
from alexnet_dsl.backend.codegen import BACKENDS, class_name, generate
from alexnet_dsl.diagnostics import Diagnostic, DslError, DslWarning, Severity, error, warning
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Source

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
        example = ", ".join(
            f"{s}={analysis.admissible[s].ranges[0][0] if s in analysis.admissible else 1}" for s in symbols
        )
        raise DslError(
            [
                error(
                    "E0311",
                    f"the parameters of `{first.display_name}` depend on {', '.join(f'`{s}`' for s in symbols)}",
                    first.op_span,
                    notes=(f"{len(unbound)} layer(s) have parameter shapes that depend on an input size",),
                    helps=(
                        f"bind the sizes: compile(spec, {example}) or `dslc compile --sizes "
                        f"{example.replace(', ', ',')}`",
                    ),
                )
            ],
            analysis.source,
        )
    return analysis


def parse_budget(text: str) -> int:
    """`"512M"`, `"1.5G"`, `"1000"`, `"1e9"` -> bytes (K, M, G, T are powers of 1024; ASCII digits only);
    the number is read as budget_bytes reads a number."""
    m = re.fullmatch(
        r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+]?[0-9]+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE
    )
    if not m:
        sign = " (a budget cannot be negative)" if text.strip().startswith("-") else ""
        raise ValueError(
            f"a memory budget is a number of bytes, optionally with K, M, G or T: {text!r}{sign}"
        )
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    number = float(m.group(1)) if re.search(r"[.eE]", m.group(1)) else int(m.group(1))
    return _whole_bytes(number * scale, text)


def _whole_bytes(budget: float, shown) -> int:
    """A budget as whole bytes: a fraction of a byte is dropped, but a budget under 1 KiB with a fraction
    (`1.5`) is a unit left out (`'1.5G'`), not a budget of 1 byte."""
    if not budget >= 0 or budget == float("inf"):  # `not >=` also catches NaN
        raise ValueError(f"memory_budget must be a non-negative number of bytes, got {shown!r}")
    if budget != int(budget) and budget < 2**10:
        raise ValueError(
            f"memory_budget is a number of bytes: {shown!r} is not a whole number of bytes "
            f"(for {budget:g} GiB write '{budget:g}G')"
        )
    return int(budget)


def budget_bytes(budget) -> int | None:
    """`compile(memory_budget=...)` as bytes: None (no guard), a number of bytes or a string for
    parse_budget (`1e9` and `'1e9'` are the same budget). Negative, non-finite and other values, and
    fractions of a byte under 1 KiB, are a ValueError, not a guard that refuses all."""
    if budget is None:
        return None
    if isinstance(budget, str):
        return parse_budget(budget)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise ValueError(
            f"memory_budget must be a number of bytes, a string like '8G', or None, not {budget!r}"
        )
    return _whole_bytes(budget, budget)


def human_bytes(n: float) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1: `1.00 MiB`, not `0.00 GiB`."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} byte{'s' if int(n) != 1 else ''}"


def default_budget() -> int:
    env = os.environ.get("DSLC_MEMORY_BUDGET")
    if env:
        try:
            return parse_budget(env)
        except ValueError as e:
            raise ValueError(
                f"the environment variable DSLC_MEMORY_BUDGET={env!r} is not a memory budget: {e}"
            ) from None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return total // 2


def over_budget(analysis: Analysis, budget: int | None, *, refuse: bool = True) -> Diagnostic | None:
    """The diagnostic for a network whose parameters (and one sample's activations) exceed the budget, or
    None: E0312 where the caller would allocate them (`alexnet_dsl.compile`), W0406 where it only writes
    source (`dslc compile`, `refuse=False`)."""
    if budget is None:
        return None
    params = analysis.params or 0
    activations = sum(i.activation_bytes or 0 for i in analysis.infos)
    need = params * 4 * 2 + activations  # weights, their gradients' worth of headroom, one sample
    if need <= budget:
        return None
    net = analysis.network
    assert net is not None
    notes = (
        f"{params:,} parameters ({human_bytes(params * 4)} as float32, twice for training) and "
        f"{human_bytes(activations)} of activations per sample",
    )
    if refuse:
        return error(
            "E0312",
            f"`{net.name}` needs about {human_bytes(need)}, over the budget of {human_bytes(budget)}",
            net.name_span,
            notes=notes,
            helps=(
                "raise the budget: compile(spec, memory_budget=BYTES) or DSLC_MEMORY_BUDGET=64G; "
                "memory_budget=None turns the guard off",
            ),
        )
    return warning(
        "W0406",
        f"`{net.name}` needs about {human_bytes(need)}, over this machine's budget of "
        f"{human_bytes(budget)}: the module is written, but instantiating it here would likely fail",
        net.name_span,
        notes=(*notes, "`alexnet_dsl.compile` refuses it here with E0312"),
        helps=(
            "run it where that much memory is free, or raise the budget there: DSLC_MEMORY_BUDGET=64G "
            "or compile(spec, memory_budget=BYTES)",
        ),
    )


def check_budget(analysis: Analysis, budget: int | None) -> None:
    """Refuse, before allocating anything, a network whose parameters would not fit the budget."""
    diagnostic = over_budget(analysis, budget)
    if diagnostic is not None:
        raise DslError([diagnostic], analysis.source)


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


def compile_spec(spec, *, backend: str = "auto", init: str = "default", memory_budget=_DEFAULT, **sizes):
    """See `alexnet_dsl.compile`."""
    analysis = analyse(spec, sizes)
    for d in analysis.diagnostics:
        if d.severity is Severity.WARNING:
            warnings.warn(
                DslWarning(d, analysis.source), stacklevel=3
            )  # at the caller of alexnet_dsl.compile
    budget = default_budget() if memory_budget is _DEFAULT else budget_bytes(memory_budget)
    check_budget(analysis, budget)
    resolved = resolve_backend(backend)
    source_code = generate(analysis, backend=resolved, init=init)
    cls = instantiate(source_code, class_name(analysis.network.name), analysis.source.path)  # type: ignore[union-attr]
    model = cls()
    # `_dslc_*` cannot clash with a layer's name (codegen.mangle); the public `dslc_*` give way to a
    # layer of the same name, as the generated methods' public names do
    taken = {layer.name.split(".")[0] for layer in analysis.network.layers}  # type: ignore[union-attr]
    for key, value in (("source", source_code), ("backend", resolved), ("analysis", analysis)):
        setattr(model, f"_dslc_{key}", value)
        if f"dslc_{key}" not in taken:
            setattr(model, f"dslc_{key}", value)
    return model
