"""The helpers a generated module defines before its class: regions of the runtime files, copied verbatim.

The runtime (`runtime/*.py`) is written as generated files contain it, and linted and tested as the
package's own code. In a runtime file, a line `# emit: NAME` starts a region and the next such line
ends it (`# emit: end` closes the last); a region is copied without its marker and the blank lines
around it. Generated files for the torch backend import nothing but torch, so the CPU helpers are
copied in rather than imported.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

RUNTIME = Path(__file__).parent / "runtime"
MARKER = "# emit: "


@cache
def regions(file: str) -> dict[str, str]:
    """The regions of `runtime/<file>`: name -> text, as a generated file contains it."""
    out: dict[str, str] = {}
    name, lines = None, []
    for line in (RUNTIME / file).read_text(encoding="utf-8").split("\n"):
        if not line.startswith(MARKER):
            lines.append(line)
            continue
        if name is not None:
            out[name] = "\n".join(lines).strip("\n")
        name, lines = line.removeprefix(MARKER), []
    assert name == "end", f"runtime/{file}: the last region must be closed by `{MARKER}end`"
    return out


def prelude(helpers: set[str], backend: str) -> list[str]:
    """The chunks a generated module defines for the runtime `helpers` its code calls (op_code.OpCode.helper,
    and `admissible` for the input check), in the order generated files have them."""
    names: list[str] = []  # regions of torch_ops.py; one needed by two helpers comes where the first needs it
    if helpers & {"lrn", "fused"}:
        names += ["inv_pow", "needs_grad", "lrn"]
    if "fused" in helpers:
        names.append("plain_module")
    if "linear" in helpers:
        names += ["onednn_linear", "needs_grad", "fast_call"]
    torch_ops = regions("torch_ops.py")
    chunks = [torch_ops[name] for name in dict.fromkeys(names)]
    if "fused" in helpers:  # each Triton backend has its own (the kernel, or the kernel on CUDA tensors)
        chunks.append(regions(f"{backend}_ops.py")["conv_relu_lrn"])
    if "admissible" in helpers:
        chunks.append(torch_ops["admissible"])
    return chunks
