"""The helpers a generated module defines before its class: regions of the runtime files, copied verbatim.

The runtime (`runtime/*.py`) is written as generated files contain it, and linted and tested as the
package's own code. In a runtime file, a line `# emit: NAME` starts a region and the next such line
ends it (`# emit: end` closes the last); a region is copied without its marker and the blank lines
around it. Generated files for the torch backend import nothing but torch, so the CPU helpers are
copied in rather than imported.

One exception to "verbatim": a network named like one of the generated module's imports (`network F`,
`torch`, `nn`, `LRNParams`, `fused_conv2d`) gives the class that name, and the module imports its own
under a private one (`import torch.nn.functional as _F`). codegen then renames the uses of that import in
the whole file, the regions included (`F.pad` -> `_F.pad`; `names.rename_own_names`), because a helper
would otherwise find the class where it expects the import. The rename changes nothing but those names,
and the line numbers stay.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

RUNTIME = Path(__file__).parent / "runtime"
MARKER = "# emit: "
BACKEND_FILE = "{backend}_ops.py"  # in HELPERS: the file of the backend being generated for

# The runtime helpers generated code calls (`op_code.OpCode.helper`; `admissible` is the input check's) ->
# the regions each needs, itself included: `FILE:NAME`, or `NAME` for a region of torch_ops.py.
HELPERS: dict[str, tuple[str, ...]] = {
    "lrn": ("inv_pow", "needs_grad", "lrn"),
    # each Triton backend has its own `_fused_conv` (the kernel, or the kernel on CUDA tensors), which calls
    # `_lrn`, `_plain_module` and `fold`'s `_activate` and `_folded`
    "fused": ("inv_pow", "needs_grad", "lrn", "plain_module", "fold", f"{BACKEND_FILE}:fused_conv"),
    "linear": ("onednn_linear", "needs_grad", "fast_call"),
    "stochastic_depth": ("stochastic_depth",),
    "admissible": ("admissible",),
}


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


def located(region: str, backend: str) -> tuple[str, str]:
    """A region of HELPERS as (file, name): `lrn` -> (`torch_ops.py`, `lrn`)."""
    file, _, name = region.rpartition(":")
    return (file or "torch_ops.py").format(backend=backend), name


def prelude(helpers: set[str], backend: str) -> list[str]:
    """The chunks a generated module defines for the runtime `helpers` its code calls (keys of HELPERS), in
    the order generated files have them: the regions torch_ops.py lends the layers' helpers, each where the
    first helper needs it, then the backend's own, then the input check's."""
    unknown = helpers - HELPERS.keys()
    assert not unknown, f"no runtime helper {sorted(unknown)} in prelude.HELPERS"
    needed = dict.fromkeys(region for helper in HELPERS if helper in helpers for region in HELPERS[helper])
    order = sorted(needed, key=lambda region: (region == "admissible", ":" in region))  # a stable sort
    return [regions(file)[name] for file, name in (located(region, backend) for region in order)]
