"""The helper functions a generated module defines, taken from the source of ops.py.

Generated files must not import alexnet_dsl for the torch backend, so the fast CPU functions of
ops.py are copied into them (read with `ast`, without importing torch), renamed with a leading
underscore. ops.py stays the one place where they are written and tested.
"""

from __future__ import annotations

import ast
import re
import textwrap
from functools import lru_cache
from pathlib import Path

OPS = Path(__file__).parent / "runtime" / "ops.py"


@lru_cache(maxsize=1)
def _functions() -> dict[str, tuple[str, set[str]]]:
    """Top-level function, class or variable name -> (source, names of the other ones it uses)."""
    text = OPS.read_text()
    tree = ast.parse(text)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assigns = {
        t.id: n for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    lines = text.splitlines(keepends=True)
    out: dict[str, tuple[str, set[str]]] = {}
    for name, node in {**defs, **assigns}.items():
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        src = "".join(lines[first - 1 : node.end_lineno])
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & (set(defs) | set(assigns))
        used.discard(name)
        out[name] = (src, used)
    return out


def _closure(names: list[str]) -> list[str]:
    funcs = _functions()
    seen: list[str] = []

    def visit(n: str) -> None:
        if n in seen:
            return
        for dep in sorted(funcs[n][1]):
            visit(dep)
        seen.append(n)

    for n in names:
        visit(n)
    return seen


def _renamed(src: str, names: list[str]) -> str:
    for n in names:
        if not n.startswith("_"):
            src = re.sub(rf"\b(?<!\.){re.escape(n)}\b", f"_{n}", src)
    return src


# The fused kernel stands in for calling the conv module only while that call would run nn.Conv2d.forward
# alone: with a hook on the conv (or the conv replaced), the module is called and ReLU and LRN follow as
# PyTorch ops, so the hook sees the conv's own output.
_FUSED = {
    "triton": '''
def _conv_relu_lrn(x: torch.Tensor, conv: nn.Conv2d, lrn: tuple | None = None) -> torch.Tensor:
    """conv -> ReLU (-> LRN) as one Triton kernel; the conv called as a module when it has hooks."""
    if _plain_module(conv, nn.Conv2d):
        return fused_conv2d(
            x, conv.weight, conv.bias, stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
            groups=conv.groups, relu=True, lrn=None if lrn is None else LRNParams(*lrn),
        )
    x = F.relu(conv(x))
    return x if lrn is None else _lrn(x, *lrn)
''',
    "auto": '''
def _conv_relu_lrn(x: torch.Tensor, conv: nn.Conv2d, lrn: tuple | None = None) -> torch.Tensor:
    """conv -> ReLU (-> LRN): one Triton kernel on CUDA tensors, PyTorch ops elsewhere or when the conv has hooks."""
    if x.is_cuda and _plain_module(conv, nn.Conv2d):
        return fused_conv2d(
            x, conv.weight, conv.bias, stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
            groups=conv.groups, relu=True, lrn=None if lrn is None else LRNParams(*lrn),
        )
    x = F.relu(conv(x))
    return x if lrn is None else _lrn(x, *lrn)
''',
}


def helpers(used: list[str], backend: str) -> list[str]:
    """Source chunks for the helpers a generated module uses (`lrn`, `fused`)."""
    wanted = []
    if "lrn" in used or "fused" in used:
        wanted.append("lrn")
    if "fused" in used:
        wanted.append("plain_module")
    if "linear" in used:
        wanted.append("fast_call")  # the module called as a module, its F.linear on oneDNN
    names = _closure(wanted)
    funcs = _functions()
    chunks = [_renamed(textwrap.dedent(funcs[n][0]).strip("\n"), names) for n in names]
    chunks = [re.sub(r"(?<![.\w])Tensor\b", "torch.Tensor", c) for c in chunks]
    if "fused" in used:
        chunks.append(_FUSED[backend].strip("\n"))
    return chunks
