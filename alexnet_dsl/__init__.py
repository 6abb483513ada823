"""dslc: a language and compiler for convolutional network architectures.

Importing this package is cheap: torch is imported only when a network is compiled.
"""

from __future__ import annotations

from alexnet_dsl._version import __version__


def compile(spec, *, backend: str = "auto", init: str = "default", memory_budget=..., **sizes):  # noqa: A001
    """Compile a spec into a `torch.nn.Module`.

    spec: a path (`str` naming an existing file, or `Path`) or the text of a spec.
    backend: "torch" (PyTorch ops), "triton" (fused Triton kernels; raises if they cannot run),
        "auto" (Triton kernels for CUDA tensors when Triton is available, PyTorch ops otherwise).
    init: "default" (PyTorch's) or "paper" (AlexNet's: N(0, 0.01) weights, biases 1 in the 2nd, 4th
        and 5th conv and the hidden linear layers).
    memory_budget: bytes (or "8G"); the default is DSLC_MEMORY_BUDGET or half the machine's memory;
        None turns the guard off.
    sizes: values for symbolic input sizes, e.g. H=227, W=227.

    Raises `DslError` (with the diagnostics, rendered like `dslc check`) when the spec does not check,
    `alexnet_dsl.extras.MissingExtra` (a ModuleNotFoundError naming the `pip install`) without torch;
    issues a `DslWarning` for each warning (a dropped row, `alpha=10e-4`, ...).
    """
    from alexnet_dsl.extras import require

    require("torch", what="alexnet_dsl.compile()")
    from alexnet_dsl.backend.budget import DEFAULT_BUDGET
    from alexnet_dsl.backend.build import compile_spec

    return compile_spec(
        spec,
        backend=backend,
        init=init,
        memory_budget=DEFAULT_BUDGET if memory_budget is ... else memory_budget,
        **sizes,
    )


def check(spec):
    """Check a spec (path or text) and return its `Analysis` (shapes, params, diagnostics)."""
    from alexnet_dsl.analysis.pipeline import check_source
    from alexnet_dsl.source import Source

    return check_source(Source.load(spec))


def from_torch(module, input_shape, name: str = "Imported", *, blocks: bool = True) -> str:
    """The `.net` text of a PyTorch module for inputs of `input_shape` (batch first).

    The module is an nn.Sequential, or anything torch.fx can trace made of ops the language has;
    the spec compiles back to the same function (`alexnet_dsl.interop.torch_import.translate(...).state_dict`
    renames the weights). Raises `alexnet_dsl.interop.torch_import.UnsupportedModule` (an ImportError) listing
    every op the language lacks. Instances of one module class with the same structure become one `block`
    (`blocks=False`: one line per layer). See docs/interop.md.
    """
    from alexnet_dsl.extras import require

    require("torch", what="alexnet_dsl.from_torch()")
    from alexnet_dsl.interop.torch_import import from_torch as _from_torch

    return _from_torch(module, input_shape, name, blocks=blocks)


def export_onnx(spec, path, weights=None, sizes=None, *, opset: int | None = None):
    """Export a spec's compiled module to ONNX (see `dslc export` and docs/interop.md); `opset` None is
    `alexnet_dsl.interop.onnx_export.OPSET`."""
    from alexnet_dsl.extras import EXPORT_NEEDS, require

    require(*EXPORT_NEEDS, what="alexnet_dsl.export_onnx()")
    from alexnet_dsl.interop.onnx_export import export_onnx as _export_onnx

    return _export_onnx(spec, path, weights, sizes, opset=opset)


def __getattr__(name: str):
    # DslError and DslWarning are imported on first use, so that importing the package imports no stage
    # (and `python -m alexnet_dsl.codes` finds `codes` not yet imported)
    if name in ("DslError", "DslWarning"):
        from alexnet_dsl import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DslError", "DslWarning", "__version__", "check", "compile", "export_onnx", "from_torch"]
