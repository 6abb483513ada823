"""`dslc export --onnx` and `dslc import`: in and out of other formats.

Both need torch (and export needs onnx); they are imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

from alexnet_dsl.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    UsageError,
    add_color_option,
    compilable,
    print_diagnostics,
    use_color,
    write_output,
)
from alexnet_dsl.extras import EXPORT_NEEDS, require

# ---------------------------------------------------------------------------- dslc export


def cmd_export(args: argparse.Namespace) -> int:
    from alexnet_dsl.diagnostics import DslError

    out = _export_target(args)
    require(*EXPORT_NEEDS, what="`dslc export`")
    color = use_color(sys.stderr, args.color)
    analysis = compilable(args.file, args.sizes, color)
    if analysis is None:
        return EXIT_ERRORS
    from alexnet_dsl.interop.onnx_export import MIN_OPSET, ExportError, export_onnx, max_opset

    if not MIN_OPSET <= args.opset <= max_opset():
        raise UsageError(f"--opset must be in {MIN_OPSET}..{max_opset()}, got {args.opset}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = export_onnx(analysis, out, weights=args.weights, opset=args.opset)
    except DslError as e:  # the memory budget
        print_diagnostics(e.diagnostics, e.source, color, highlight=False)
        return EXIT_ERRORS
    except ExportError as e:
        sys.stderr.write(f"dslc: error: {e}\n")
        return EXIT_ERRORS
    except OSError as e:
        raise UsageError(f"cannot write `{args.onnx}`: {e.strerror or e}") from None
    _print_python_warnings(caught)
    for check in result.disagreements:
        sys.stderr.write(f"dslc: warning: shapes disagree: {check.describe()}\n")
    sys.stderr.write(result.summary() + "\n")
    return EXIT_ERRORS if result.disagreements else EXIT_OK


def _export_target(args: argparse.Namespace) -> Path:
    """Where the model goes, once the files named are known to be usable (before the slow imports)."""
    out = Path(args.onnx)
    if args.file != "-" and out.resolve() == Path(args.file).resolve():
        raise UsageError(f"refusing to write over the input `{args.file}`")
    if not out.resolve().parent.is_dir():
        raise UsageError(f"cannot write `{args.onnx}`: no directory `{out.resolve().parent}`")
    if args.weights is not None and not Path(args.weights).is_file():
        raise UsageError(f"cannot read `{args.weights}`: no such file")
    return out


def _print_python_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Python warnings raised during a command, each once, as one `dslc: warning:` line. The spec's own
    (DslWarning: `alexnet_dsl.compile` warns for the library's users) were already printed by `compilable`
    in full, so they are dropped here rather than shown a second time as raw Python warnings."""
    from alexnet_dsl.diagnostics import DslWarning

    shown: set[str] = set()
    for w in caught:
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else w.category.__name__
        if isinstance(w.message, DslWarning) or text in shown:
            continue
        shown.add(text)
        sys.stderr.write(f"dslc: warning: {text}\n")


# ---------------------------------------------------------------------------- dslc import


def _parse_shape(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    if not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts) or len(parts) not in (2, 4):
        raise UsageError(
            f"--input-shape takes 4 (N,C,H,W) or 2 (N,features) positive integers, e.g. "
            f"1,3,224,224; got {text!r}"
        )
    return tuple(int(p) for p in parts)


def _load_model(spec: str):
    """`package.module:attribute` (a module, or a callable returning one) or a `torch.save`d module."""
    from torch import nn

    if Path(spec).is_file():
        obj = _load_file(spec)
    elif ":" in spec:
        obj = _import_attribute(spec)
        if not isinstance(obj, nn.Module) and callable(obj):
            try:
                obj = obj()
            except Exception as e:
                raise UsageError(f"calling `{spec}()` failed: {type(e).__name__}: {e}") from None
    else:
        raise UsageError(
            f"cannot read `{spec}`: no such file (MODEL is a torch.save'd module or package.module:attribute)"
        )
    if not isinstance(obj, nn.Module):
        raise UsageError(f"`{spec}` is a {type(obj).__name__}, not a torch.nn.Module")
    return obj


def _load_file(spec: str):
    import torch

    try:
        # a full module is a pickle: loading one runs code from the file, as torch.load does
        obj = torch.load(Path(spec), map_location="cpu", weights_only=False)
    except Exception as e:
        raise UsageError(f"cannot load `{spec}`: {type(e).__name__}: {e}") from None
    if isinstance(obj, dict):
        raise UsageError(
            f"`{spec}` holds a state_dict, not a module: save the module itself "
            "(torch.save(model, path)) or name it as package.module:attribute"
        )
    return obj


def _import_attribute(spec: str):
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"MODEL is package.module:attribute or a file; got {spec!r}")
    sys.path.insert(0, os.getcwd())  # `models:alexnet` for models.py in the current directory
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"cannot import `{module_name}`: {e}") from None
    finally:
        sys.path.pop(0)
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"`{module_name}` has no attribute `{attribute}`")
        obj = getattr(obj, part)
    return obj


def cmd_import(args: argparse.Namespace) -> int:
    shape = _parse_shape(args.input_shape)
    for target in (args.output, args.save_weights):
        if target not in (None, "-") and not Path(target).resolve().parent.is_dir():
            raise UsageError(f"cannot write `{target}`: no directory `{Path(target).resolve().parent}`")
    require("torch", what="`dslc import`")
    from alexnet_dsl.interop.torch_import import valid_name
    from alexnet_dsl.interop.weights import save_weights

    if args.name is not None and not valid_name(args.name):
        raise UsageError(f"--name must be an ASCII identifier not starting with `_`, got {args.name!r}")
    module = _load_model(args.model)
    name = args.name or _default_name(module)
    result = _translate(module, shape, name, args.model, blocks=not args.flat)
    if result is None:
        return EXIT_ERRORS
    write_output(args.output, result.text, inputs=(Path(args.model),) if Path(args.model).is_file() else ())
    if args.save_weights:
        try:
            save_weights(result.state_dict(module), Path(args.save_weights))
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot write `{args.save_weights}`: {e.strerror or e}") from None
    analysis = result.analysis
    where = args.output if args.output not in (None, "-") else "<stdout>"
    sys.stderr.write(
        f"{where}: {name}, {len(analysis.infos)} layers, {analysis.params:,} parameters"
        + (f"; weights in {args.save_weights}" if args.save_weights else "")
        + "\n"
    )
    return EXIT_OK


def _translate(module, shape: tuple[int, ...], name: str, model: str, blocks: bool = True):
    """The spec of `module`, or None (the reasons printed) when it cannot be translated."""
    from alexnet_dsl.interop.torch_import import UnsupportedModule, translate

    try:
        return translate(module, shape, name, blocks=blocks)
    except UnsupportedModule as e:
        for item in e.unsupported:
            sys.stderr.write(f"dslc: error: cannot translate {item}\n")
        count = len(e.unsupported)
        sys.stderr.write(
            f"dslc: {count} op{'s' if count != 1 else ''} of `{model}` "
            f"{'have' if count != 1 else 'has'} no counterpart in the language\n"
        )
    except ValueError as e:  # the module does not run on that input shape
        sys.stderr.write(f"dslc: error: {e}\n")
    return None


def _default_name(module) -> str:
    """The module's class name, unless it is a plain container (`Sequential`)."""
    cls = type(module)
    name = cls.__name__
    if (
        cls.__module__.startswith("torch.nn")
        or not (name.isascii() and name.isidentifier())
        or name.startswith("_")
    ):
        return "Imported"
    return name


# ---------------------------------------------------------------------------- registration


def add_commands(sub) -> None:
    """Register `export` and `import` on the `dslc` parser."""
    p = sub.add_parser(
        "export",
        help="write a spec as an ONNX model",
        description="Compile a spec with the torch backend and export it as an ONNX model "
        "(LRN as a real ONNX `LRN` node), checked with onnx.checker; every "
        "layer's shape is compared with ONNX's shape inference.",
    )
    p.add_argument("file", metavar="FILE", help="the spec (`-` reads standard input)")
    p.add_argument("--onnx", metavar="OUT.onnx", required=True, help="where to write the model")
    p.add_argument(
        "--weights",
        metavar="W.pt",
        help="a state_dict saved with torch.save (default: PyTorch's initialisation)",
    )
    p.add_argument(
        "--sizes",
        metavar="H=227,W=227",
        help="bind symbolic input sizes (unbound ones and the batch stay dynamic axes)",
    )
    p.add_argument("--opset", type=int, default=20, help="ONNX opset (default: 20)")
    add_color_option(p, help_text=None)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import",
        help="write a PyTorch module as a spec",
        description="Translate a PyTorch module (an nn.Sequential, or anything torch.fx "
        "can trace made of ops the language has) into a .net spec.",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="package.module:attribute (a module, or a callable returning one), or a file "
        "holding a torch.save'd module (loading it runs code from the file)",
    )
    p.add_argument(
        "--input-shape", required=True, metavar="1,3,224,224", help="the input's shape, batch first"
    )
    p.add_argument("--name", help="the network's name (default: the module's class name)")
    p.add_argument("-o", "--output", metavar="OUT.net", help="where to write (default: standard output)")
    p.add_argument(
        "--flat",
        action="store_true",
        help="one layer per traced node (default: a module repeated with equal bodies becomes a block)",
    )
    p.add_argument(
        "--save-weights",
        metavar="W.pt",
        help="also save the module's weights under the spec's names (for compile or export)",
    )
    p.set_defaults(func=cmd_import)
