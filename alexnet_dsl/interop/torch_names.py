"""How `dslc import` names what it cannot translate: the node as its module, function or method, and where
that is documented (`torch.nn.Conv2d`, `torch.nn.functional.gelu`, `operator.mul`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import fx


def describe(gm: fx.GraphModule, node: fx.Node, why: str) -> str:
    """A node that cannot be translated, named as its module or function, and why."""
    if node.op == "call_module":
        return f"`{node.target}` ({qualname(type(gm.get_submodule(node.target)))}): {why}"
    if node.op == "call_method":
        return f"`{node.name}` (Tensor.{node.target}): {why}"
    if node.op == "call_function":
        return f"`{node.name}` ({qualname(node.target)}): {why}"
    return f"`{node.name}`: {why}"


def qualname(obj) -> str:
    """Where a class or function is documented: `torch.nn.Conv2d`, `torch.nn.functional.gelu`, `operator.mul`."""
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    if module.startswith("torch.nn.modules."):
        module = "torch.nn"
    module = {
        "_operator": "operator",
        "torch._C._nn": "torch.nn.functional",
        "torch._C._VariableFunctions": "torch",
    }.get(module, module)
    return f"{module}.{name}" if module and module != "builtins" else name
