"""`assert_shapes`: run a compiled network statement by statement and compare every layer's output
shape with the checker's prediction."""

from __future__ import annotations

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

    Raises AssertionError with a layer-by-layer table when any shape differs (or the input's rank
    is not the network's), and the network's own ValueError when it does not accept the input.
    """
    with needs("alexnet_dsl.testing.assert_shapes"):
        import torch

    from alexnet_dsl.backend.build import attached, compile_spec

    if isinstance(spec_or_module, torch.nn.Module):
        model, analysis = spec_or_module, attached(spec_or_module, "analysis")
        if analysis is None:
            raise TypeError("assert_shapes needs a spec or a module made by alexnet_dsl.compile")
        device = device or next((str(p.device) for p in model.parameters()), "cpu")
        model = model.to(device)
    else:
        device = device or "meta"
        analysis = analysis_of(spec_or_module)
        with torch.device(device):
            model = compile_spec(analysis, backend=backend, memory_budget=None)
    net = analysis.network
    assert net is not None
    if len(input_shape) != len(net.input_dims):
        raise AssertionError(
            f"input shape {list(input_shape)} has rank {len(input_shape)}, the network "
            f"expects {len(net.input_dims)}: {list(net.input_dims)}"
        )
    rows = _run(model.eval(), analysis, input_shape, device)
    if any(bad for *_, bad in rows):
        raise AssertionError(_table(rows, input_shape))


def _run(model, analysis, input_shape: tuple[int, ...], device: str) -> list[Row]:
    """`forward`'s statements as emitted (its source map), run one at a time; a row per layer, up to
    the first that raises."""
    import torch

    from alexnet_dsl.backend.build import attached
    from alexnet_dsl.backend.fuse import layer_shapes
    from alexnet_dsl.backend.plan import network_for
    from alexnet_dsl.backend.source_map import StatementFailed, run_forward

    sizes = {d: input_shape[i] for i, d in enumerate(analysis.network.input_dims) if isinstance(d, str)}
    # the network as the module's backend runs it (`auto` where Triton cannot run: the torch backend's)
    predicted = layer_shapes(analysis, network_for(analysis, attached(model, "backend")))

    def wanted(layer: str) -> tuple[int, ...] | None:
        dims = predicted.get(layer)
        return None if dims is None else tuple(E.evaluate(d, sizes) for d in dims)

    rows: list[Row] = []
    with torch.no_grad():
        try:
            for statement, value in run_forward(model, torch.empty(input_shape, device=device)):
                want, got = wanted(statement.layer), tuple(value.shape)
                rows.append((statement.layer, str(list(want)) if want else "?", str(list(got)), got != want))
        except StatementFailed as failed:  # the layer itself failed: that is a difference too
            e = failed.__cause__
            layer = failed.statement.layer
            rows.append((layer, str(wanted(layer)), f"raised {type(e).__name__}: {e}", True))
    return rows


def _table(rows: list[Row], input_shape: tuple[int, ...]) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [
        f"shapes differ from the static prediction for input {list(input_shape)}:",
        f"  {'layer':<{width}}  {'predicted':<24}  actual",
    ]
    lines += [f"  {n:<{width}}  {w:<24}  {g}{'   <-- differs' if bad else ''}" for n, w, g, bad in rows]
    return "\n".join(lines)
