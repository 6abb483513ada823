"""Patterns of traced nodes that are ops of the language, found before the per-node translation.

    x.view(N, g, C // g, H, W).transpose(1, 2).contiguous().view(N, -1, H, W)   -> channel_shuffle(g)
    x.chunk(2, dim=1)[i]                                                         -> chunk(2, i)
    a * b, of two tensors                                                        -> mul(a, b)
    a parameter of shape (C, 1, 1) (or (C,) on [N, C]) * x  (ConvNeXt's layer scale) -> scale(init)
    x.view(x.size(0), -1), x.view(-1, 144), x.reshape(x.shape[0], -1)            -> flatten
    x.permute(0, 2, 3, 1) ... .permute(0, 3, 1, 2)   a channels-last region: nn.Linear is a 1x1 conv,
        nn.LayerNorm(C) and LayerNorm2d's F.layer_norm are layernorm, elementwise ops are themselves

A pattern is recognised by the shapes the tracer recorded (`node.meta["dslc_shape"]`), not by the size
arithmetic that feeds its views: `x.size()`, its items and `C // g` become no line, and neither does any
size or parameter read only by a recognised pattern (or by `F.interpolate`, which reads its traced shape).

`rewrite(gm)` says what each such node becomes, a `Rewrite` or why it cannot be translated; the per-node
translation (torch_import) writes the rest.
"""

from __future__ import annotations

import dataclasses
import math
import operator

from alexnet_dsl.extras import needs
from alexnet_dsl.frontend.vocabulary import ACTIVATIONS

with needs("`alexnet_dsl.interop.torch_patterns`"):  # a missing extra is one line naming its `pip install`
    import torch
    import torch.nn.functional as F
    from torch import fx, nn

    from alexnet_dsl.interop.torch_makers import (
        Untranslatable,
        layer_norm,
        layernorm,
        op_call,
        pointwise_conv,
    )
    from alexnet_dsl.interop.torch_ops import NO_DEFAULT, add_operands, bind, single_op

# how a layer's weights load (`Translation.state_dict`): the module's state_dict under the layer's name; the
# same with a Linear's weight [o, i] as a 1x1 convolution's [o, i, 1, 1]; a parameter stored as the layer
# itself, as it is, or as (C, 1, 1)
LOADS = ("module", "linear_as_conv", "parameter", "channel_parameter")


@dataclasses.dataclass(frozen=True)
class Rewrite:
    """What a node becomes: a layer (`op` reading `inputs`), its input (`op` None, one input), or nothing (no
    input: a size, or a step of a pattern whose last node is the layer)."""

    op: str | None
    inputs: tuple[fx.Node, ...] = ()
    join: bool = False  # `mul(a, b)`: the inputs are written as arguments
    path: str | None = None  # where its weights are: a module, or a parameter
    load: str = "module"
    shape: tuple[int, ...] | None = None  # as [N, C, H, W] where the node's own is channels-last
    own: str | None = None  # a module it ran in that is its own (LayerNorm2d, traced through)
    name: str | None = None  # its name when a line refers to it (`part0`), rather than its node's

    def __post_init__(self) -> None:
        assert self.load in LOADS, self.load


_NOTHING = Rewrite(None)
_ELEMENTWISE = {op for op in ACTIVATIONS if op != "softmax"} | {"dropout", "stochastic_depth"}


def rewrite(gm: fx.GraphModule) -> dict[fx.Node, Rewrite | str]:
    """What the nodes of recognised patterns become, or why one cannot be translated."""
    out: dict[fx.Node, Rewrite | str] = {}
    _channels_last(gm, out)
    for node in gm.graph.nodes:
        if node in out:
            continue
        for find in (_channel_shuffle, _chunk, _flatten_view):
            found = find(node)
            if found:
                out.update(found)
                break
    for node in gm.graph.nodes:
        if node not in out and _is_mul(node) and _shape(node) is not None:  # not size arithmetic
            try:
                out[node] = _product(gm, node)
            except Untranslatable as e:
                out[node] = str(e)
    for node in reversed(gm.graph.nodes):  # users first
        unshaped = _shape(node) is None or node.op == "get_attr"
        fed = node.users and all(u in out or u.target is F.interpolate for u in node.users)
        if unshaped and fed and node not in out and node.op != "output":
            out[node] = _NOTHING
    return out


# ---------------------------------------------------------------------------- shapes


def _shape(node) -> tuple[int, ...] | None:
    return node.meta.get("dslc_shape") if isinstance(node, fx.Node) else None


def _one_user(node: fx.Node) -> fx.Node | None:
    return next(iter(node.users)) if len(node.users) == 1 else None


_RESHAPES = {"view", "reshape", "flatten", "unflatten"}


def _is_reshape(node: fx.Node) -> bool:
    """A view of the same elements in the same order under another shape (not `x.view(torch.float16)`)."""
    if (
        not node.args
        or not isinstance(node.args[0], fx.Node)
        or any(isinstance(a, torch.dtype) for a in node.args)
    ):
        return False
    if node.op == "call_method":
        return node.target in _RESHAPES
    return node.op == "call_function" and node.target in (torch.reshape, torch.flatten, torch.unflatten)


def _dims(node: fx.Node) -> list[int] | None:
    """The dims of `x.permute(...)`, `torch.permute(x, dims)`, or the swap of a transpose, as a permutation."""
    rank = len(_shape(node.args[0]) or ()) if node.args else 0
    method = node.op == "call_method"
    if node.target is torch.permute or method and node.target == "permute":
        dims = node.args[1:] if len(node.args) > 2 else node.args[1] if len(node.args) == 2 else None
        if dims is None and "dims" in node.kwargs:
            dims = node.kwargs["dims"]
    elif node.target is torch.transpose or method and node.target == "transpose":
        if (
            len(node.args) != 3
            or node.kwargs
            or rank == 0
            or not all(isinstance(d, int) for d in node.args[1:])
        ):
            return None
        dims = list(range(rank))
        a, b = node.args[1] % rank, node.args[2] % rank  # type: ignore[operator]
        dims[a], dims[b] = dims[b], dims[a]
    else:
        return None
    if not isinstance(dims, (list, tuple)) or not all(isinstance(d, int) for d in dims) or rank == 0:
        return None
    return [d % rank for d in dims]


# ---------------------------------------------------------------------------- view patterns


def _channel_shuffle(node: fx.Node) -> dict[fx.Node, Rewrite] | None:
    """view(N, g, C/g, H, W) -> transpose(1, 2) -> (contiguous) -> view(N, C, H, W), by the shapes."""
    if not _is_reshape(node):
        return None
    x = node.args[0]
    s, split = _shape(x), _shape(node)
    if s is None or split is None or len(s) != 4 or len(split) != 5:
        return None
    n, c, h, w = s
    g = split[1]
    if split != (n, g, c // g, h, w) or g * (c // g) != c or _fixed_batch(node):
        return None
    steps = [node]
    swap = _one_user(node)
    if swap is None or _dims(swap) != [0, 2, 1, 3, 4]:
        return None
    steps.append(swap)
    last = _one_user(swap)
    while last is not None and last.op == "call_method" and last.target == "contiguous":
        steps.append(last)
        last = _one_user(last)
    if last is None or not _is_reshape(last) or _shape(last) != s or _fixed_batch(last):
        return None
    return {
        **{step: _NOTHING for step in steps},
        last: Rewrite(op_call("channel_shuffle", groups=g), (x,)),
    }


def _chunk(node: fx.Node) -> dict[fx.Node, Rewrite | str] | None:
    """`x.chunk(parts, dim=1)` and its items `[i]`: each item is `chunk(parts, i)` of `x`."""
    if node.op == "call_method" and node.target == "chunk":
        params = (("self", NO_DEFAULT), ("chunks", NO_DEFAULT), ("dim", 0))
    elif node.op == "call_function" and node.target is torch.chunk:
        params = (("input", NO_DEFAULT), ("chunks", NO_DEFAULT), ("dim", 0))
    else:
        return None
    try:
        x, parts, dim = bind(params, node.args, dict(node.kwargs), "chunk").values()
        s = _shape(x)
        if s is None or len(s) < 2 or dim not in (1, 1 - len(s)):
            raise Untranslatable(f"a chunk over dim {dim} (the language's chunk cuts the channels)")
        if not isinstance(parts, int) or s[1] % parts:
            raise Untranslatable(f"{s[1]} channels cut into {parts} unequal parts")
        items = {}
        for user in node.users:
            if (
                user.op != "call_function"
                or user.target is not operator.getitem
                or not isinstance(user.args[1], int)
            ):
                raise Untranslatable("the chunks used as a tuple (the language takes them one by one)")
            index = user.args[1] % parts
            items[user] = Rewrite(op_call("chunk", parts=parts, index=index), (x,), name=f"part{index}")
    except Untranslatable as e:  # one error: its items are nothing more
        return {node: str(e), **{u: _NOTHING for u in node.users if u.target is operator.getitem}}
    return {node: _NOTHING, **items}


def _flatten_view(node: fx.Node) -> dict[fx.Node, Rewrite | str] | None:
    """A view or reshape to [N, C*H*W] of its [N, C, H, W] input (`x.view(x.size(0), -1)`) is a flatten; one to
    its own shape is nothing."""
    if not _is_reshape(node) or node.target in ("flatten", "unflatten", torch.flatten, torch.unflatten):
        return None
    x = node.args[0]
    s, out = _shape(x), _shape(node)
    if s is not None and out == s:
        return {node: Rewrite(None, (x,))}  # a view of a tensor as its own shape
    if s is None or out is None or len(s) < 3 or out != (s[0], math.prod(s[1:])):
        return None
    if _fixed_batch(node):
        return {node: f"a view with a fixed batch size {_sizes(node)[0]} (write `x.flatten(1)`)"}
    first = _sizes(node)[0] if _sizes(node) else -1
    if isinstance(first, fx.Node) and not _is_batch_size(first):
        return {node: "a view whose first size is computed (write `x.flatten(1)`)"}
    return {node: Rewrite(op_call("flatten"), (x,))}


def _is_batch_size(node: fx.Node) -> bool:
    """`t.size(0)`, `t.shape[0]`, `t.size()[0]`: a tensor's batch size, the one computed first size of a
    flatten that is right at every batch."""
    if node.op == "call_method" and node.target == "size":
        return node.args[1:] == (0,) or node.kwargs == {"dim": 0}
    if node.op == "call_function" and node.target is operator.getitem and node.args[1] == 0:
        whole = node.args[0]
        return isinstance(whole, fx.Node) and (
            (whole.op == "call_function" and whole.target is getattr and whole.args[1] == "shape")
            or (whole.op == "call_method" and whole.target == "size" and len(whole.args) == 1)
        )
    return False


def _sizes(node: fx.Node) -> tuple:
    """The sizes a view or reshape is given (`x.view(a, b)` or `x.view((a, b))`)."""
    sizes = node.args[1:] if len(node.args) > 2 else node.args[1] if len(node.args) == 2 else ()
    return tuple(sizes) if isinstance(sizes, (tuple, list)) else ()


def _fixed_batch(node: fx.Node) -> bool:
    """Whether a view writes its batch as a number (`x.view(1, -1)`): right at that batch only."""
    if node.target not in ("view", "reshape", torch.reshape):  # flatten / unflatten name dims, not sizes
        return False
    sizes = _sizes(node)
    return bool(sizes) and isinstance(sizes[0], int) and sizes[0] != -1


# ---------------------------------------------------------------------------- products


def _is_mul(node: fx.Node) -> bool:
    if node.op == "call_function":
        return node.target in (operator.mul, operator.imul, torch.mul)
    return node.op == "call_method" and node.target in ("mul", "mul_")


def _param(gm: fx.GraphModule, node) -> torch.Tensor | None:
    """The parameter or buffer a `get_attr` node reads."""
    if not isinstance(node, fx.Node) or node.op != "get_attr":
        return None
    owner, _, leaf = str(node.target).rpartition(".")
    value = getattr(gm.get_submodule(owner), leaf, None)
    return value if isinstance(value, torch.Tensor) else None


def _init(p: torch.Tensor) -> float:
    """The value every factor of a layer scale has, written shortly (1e-06, not 9.99999997e-07); else 1."""
    first = p.detach().reshape(-1)[0]
    if not bool((p == first).all()):
        return 1.0
    value = float(first)
    for digits in range(1, 18):
        short = float(f"{value:.{digits}g}")
        if torch.tensor(short, dtype=p.dtype) == first:
            return short
    return value


def _product(gm: fx.GraphModule, node: fx.Node, channels_last: bool = False) -> Rewrite:
    """`a * b` of two tensors (broadcasting size-1 dims), or a per-channel parameter times a tensor."""
    if node.op == "call_method":
        params = (("self", NO_DEFAULT), ("other", NO_DEFAULT))
    else:
        params = (("input", NO_DEFAULT), ("other", NO_DEFAULT))
    a, b = bind(params, node.args, dict(node.kwargs), "mul").values()
    pa, pb = _param(gm, a), _param(gm, b)
    if pa is not None or pb is not None:
        (p, target), x = ((pa, a), b) if pa is not None else ((pb, b), a)
        s = _shape(x)
        if s is None or pa is not None and pb is not None:
            raise Untranslatable("multiplies a parameter by a constant (the language multiplies layers)")
        # one factor per channel: (C,) over the last dim of channels-last [N, H, W, C] or of [N, C]
        wanted = (s[-1],) if channels_last or len(s) == 2 else (s[1], 1, 1) if len(s) == 4 else None
        if tuple(p.shape) != wanted:
            raise Untranslatable(
                f"multiplies {list(s)} by a parameter of shape {list(p.shape)}"
                " (the language's `scale` is one factor per channel)"
            )
        load = "channel_parameter" if channels_last else "parameter"
        return Rewrite(op_call("scale", init=_init(p)), (x,), path=str(target.target), load=load)
    if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)) or _shape(a) is None or _shape(b) is None:
        raise Untranslatable("multiplies by a constant (the language multiplies layers)")
    sa, sb = _shape(a), _shape(b)
    fits = len(sa) == len(sb) and sa[0] == sb[0] and all(i == j or 1 in (i, j) for i, j in zip(sa, sb))
    if not fits:
        raise Untranslatable(
            f"multiplies shapes {list(sa)} and {list(sb)} (sizes equal, or 1 in one of them)"
        )
    return Rewrite("mul", (a, b), join=True)


# ---------------------------------------------------------------------------- channels-last regions


def _channels_last(gm: fx.GraphModule, out: dict[fx.Node, Rewrite | str]) -> None:
    """`x.permute(0, 2, 3, 1)` of [N, C, H, W] starts a channels-last region and `.permute(0, 3, 1, 2)` ends
    it; between them every node reads as the op it is over the channels of [N, C, H, W]."""
    last: dict[fx.Node, tuple[int, ...]] = {}  # channels-last node -> its shape as [N, C, H, W]
    for node in gm.graph.nodes:
        if node in out:
            continue
        inputs = [a for a in node.all_input_nodes if a in last]
        if not inputs:
            if _dims(node) == [0, 2, 3, 1] and len(_shape(node.args[0]) or ()) == 4:
                last[node] = _shape(node.args[0])  # type: ignore[assignment]
                out[node] = Rewrite(None, (node.args[0],))
            continue
        if node.op == "output":
            out[node] = "returns a channels-last tensor (`x.permute(0, 2, 3, 1)`)"
            continue
        x = inputs[0]
        nchw = last[x]
        others = [a for a in node.all_input_nodes if a not in last and a.op != "get_attr" and _shape(a)]
        if others:  # `z + y` of a channels-last z and an [N, C, H, W] y: equal shapes, other meanings
            out[node] = "mixes a channels-last tensor with an [N, C, H, W] one"
            continue
        try:
            if _dims(node) == [0, 3, 1, 2]:
                out[node] = Rewrite(None, (x,))
                continue
            done = _in_channels_last(gm, node, x, nchw)
        except Untranslatable as e:
            out[node] = str(e)
            continue
        shape = _shape(node)
        if shape is None or len(shape) != 4:
            out[node] = "reads a channels-last tensor (the language's ops read [N, C, H, W])"
            continue
        last[node] = (shape[0], shape[3], shape[1], shape[2])
        out[node] = dataclasses.replace(done, shape=last[node])


def _in_channels_last(gm: fx.GraphModule, node: fx.Node, x: fx.Node, nchw: tuple[int, ...]) -> Rewrite:
    """One node reading the channels-last `x` (of shape `nchw` as [N, C, H, W])."""
    s = _shape(x)
    assert s is not None
    if node.op == "call_method" and node.target == "contiguous":
        return Rewrite(None, (x,))
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        if isinstance(module, nn.Linear) and module.in_features == s[-1]:
            return Rewrite(pointwise_conv(module), (x,), path=str(node.target), load="linear_as_conv")
        if isinstance(module, nn.LayerNorm):
            return Rewrite(layernorm(module, s, channels_last=True), (x,), path=str(node.target))
    if node.op == "call_function" and node.target is F.layer_norm:
        return _functional_layer_norm(gm, node, s)
    added = add_operands(node)
    if added is not None and all(_shape(t) == s for t in added):
        return Rewrite("add", added, join=True)
    if _is_mul(node):
        done = _product(gm, node, channels_last=True)
        if done.join and any(_shape(t) != s for t in done.inputs):
            raise Untranslatable("multiplies a channels-last tensor by another shape")
        return done
    if len(node.all_input_nodes) == 1 and node.op in ("call_module", "call_function", "call_method"):
        op = single_op(gm, node, nchw)
        if op is None or op.split("(")[0] in _ELEMENTWISE:
            return Rewrite(op, (x,), path=str(node.target) if node.op == "call_module" else None)
    raise Untranslatable("reads a channels-last tensor (the language's ops read [N, C, H, W])")


def _functional_layer_norm(gm: fx.GraphModule, node: fx.Node, shape: tuple[int, ...]) -> Rewrite:
    """`F.layer_norm(x, (C,), self.weight, self.bias, eps)` inside a module holding just those two (as
    torchvision's LayerNorm2d): layernorm, its weights loaded from that module."""
    params = (("input", NO_DEFAULT), ("normalized_shape", NO_DEFAULT), ("weight", None), ("bias", None))
    x, normalized, weight, bias, eps = bind(
        (*params, ("eps", 1e-5)), node.args, dict(node.kwargs), "layer_norm"
    ).values()
    owners = {str(t.target).rpartition(".")[0] for t in (weight, bias) if isinstance(t, fx.Node)}
    leaves = [str(t.target).rpartition(".")[2] if isinstance(t, fx.Node) else None for t in (weight, bias)]
    if _param(gm, weight) is None or _param(gm, bias) is None:
        raise Untranslatable("F.layer_norm without a weight and a bias (the language's layernorm has both)")
    owner = owners.pop() if len(owners) == 1 else None
    if (
        owner is None
        or leaves != ["weight", "bias"]
        or set(gm.get_submodule(owner).state_dict())
        != {
            "weight",
            "bias",
        }
    ):
        raise Untranslatable("F.layer_norm with weights that are not one module's `weight` and `bias`")
    if not all(isinstance(d, int) for d in (normalized if isinstance(normalized, (tuple, list)) else [None])):
        normalized = tuple(
            _param(gm, weight).shape
        )  # computed (`x.shape[-1:]`): F.layer_norm checks they agree
    op = layer_norm(normalized, True, eps, shape, channels_last=True)
    return Rewrite(op, (x,), path=owner, own=owner)
