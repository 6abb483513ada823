"""`assert_shapes`: run a compiled network statement by statement and compare every layer's output
shape with the checker's prediction."""

from __future__ import annotations

import sys

from alexnet_dsl.extras import needs
from alexnet_dsl.ir import expr as E
from alexnet_dsl.testing.inputs import analysis_of

Row = tuple[str, str, str, bool]  # layer, predicted, actual, whether they differ


def assert_shapes(
    spec_or_module, input_shape: tuple[int, ...], device: str | None = None, backend: str = "torch"
) -> None:
    """Run the compiled network one statement at a time and compare every layer's output shape
    with the checker's prediction. A spec runs on the `meta` device by default, where nothing is
    computed or allocated; a module runs where its parameters are, unless `device` says otherwise.

    Raises AssertionError with a layer-by-layer table when any shape differs (or the input is not
    one the network accepts).
    """
    with needs("alexnet_dsl.testing.assert_shapes"):
        import torch

    if isinstance(spec_or_module, torch.nn.Module):
        model, analysis, backend, device = _module(spec_or_module, device)
    else:
        device = device or "meta"
        analysis = analysis_of(spec_or_module)
        model = _compile(analysis, backend, device)
    net = analysis.network
    assert net is not None
    if len(input_shape) != len(net.input_dims):
        raise AssertionError(
            f"input shape {list(input_shape)} has rank {len(input_shape)}, the network "
            f"expects {len(net.input_dims)}: {list(net.input_dims)}"
        )
    rows = _run(model.eval(), analysis, backend, input_shape, device)
    if any(bad for *_, bad in rows):
        raise AssertionError(_table(rows, input_shape))


def _module(model, device: str | None):
    """A module made by alexnet_dsl.compile: (it, on `device`; its analysis; its backend; the device)."""
    analysis = getattr(model, "_dslc_analysis", None)
    if analysis is None:
        raise TypeError("assert_shapes needs a spec or a module made by alexnet_dsl.compile")
    if device is None:
        device = next((str(p.device) for p in model.parameters()), "cpu")
    return model.to(device), analysis, model._dslc_backend, device


def _compile(analysis, backend: str, device: str):
    import torch

    from alexnet_dsl.backend.build import compile_spec

    spec = analysis.source.text if analysis.source.path == "<string>" else analysis.source.path
    with torch.device(device):
        return compile_spec(spec, backend=backend, memory_budget=None)


def _run(model, analysis, backend: str, input_shape: tuple[int, ...], device: str) -> list[Row]:
    """Each statement of the forward pass, run in the generated module's namespace; a row per layer,
    up to the first that raises."""
    import torch

    from alexnet_dsl.backend.names import input_arg
    from alexnet_dsl.backend.plan import forward_plan, network_for

    net = network_for(analysis, backend)
    sizes = {d: input_shape[i] for i, d in enumerate(analysis.network.input_dims) if isinstance(d, str)}
    predicted = {i.layer.name: i.shape for i in analysis.infos}
    for layer in net.layers:  # a fused layer has the shape of its last part
        if layer.name not in predicted and hasattr(layer.op, "parts"):
            predicted[layer.name] = predicted[layer.op.parts[-1]]
    arg = input_arg(net)
    namespace = sys.modules[type(model).__module__].__dict__
    x = torch.empty(input_shape, device=device)
    model._check_input(x)
    env: dict = {"self": model, arg: x}
    rows: list[Row] = []
    with torch.no_grad():
        for step in forward_plan(net, arg):
            dims = predicted.get(step.layer)
            want = None if dims is None else tuple(E.evaluate(d, sizes) for d in dims)
            try:
                exec(f"{step.out} = {step.code}", namespace, env)
                got = tuple(env[step.out].shape)
            except Exception as e:  # the layer itself failed: that is a difference too
                rows.append((step.layer, str(want), f"raised {type(e).__name__}: {e}", True))
                break
            rows.append((step.layer, str(list(want)) if want else "?", str(list(got)), got != want))
    return rows


def _table(rows: list[Row], input_shape: tuple[int, ...]) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [
        f"shapes differ from the static prediction for input {list(input_shape)}:",
        f"  {'layer':<{width}}  {'predicted':<24}  actual",
    ]
    lines += [f"  {n:<{width}}  {w:<24}  {g}{'   <-- differs' if bad else ''}" for n, w, g, bad in rows]
    return "\n".join(lines)
