"""Weights in and out: a `torch.save`d state_dict loaded into a compiled module (checked against the
spec's parameters), and a state_dict saved atomically."""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

from alexnet_dsl.extras import needs
from alexnet_dsl.files import atomic_write
from alexnet_dsl.interop.errors import ExportError, first_line

with needs("`alexnet_dsl.interop.weights`"):  # a missing extra is one line naming its `pip install`
    import torch
    from torch import nn


def load_weights(model: nn.Module, weights) -> None:
    """Load a state_dict (or a path to a `torch.save`d one) into `model`; ExportError with the
    mismatched names and shapes when it does not fit."""
    name = "the weights"
    if isinstance(weights, (str, os.PathLike)):
        name = f"the weights in `{weights}`"
        try:
            weights = torch.load(weights, map_location="cpu", weights_only=True)
        except OSError as e:
            raise ExportError(f"cannot read {name}: {e.strerror or e}") from None
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
            raise ExportError(
                f"{name} is not a state_dict saved with torch.save(model.state_dict()): {first_line(e)}"
            ) from None
    if not isinstance(weights, Mapping) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ExportError(f"{name} is not a state_dict (a mapping of names to tensors)")
    state = dict(weights)
    for prefix in ("module.", "_orig_mod."):  # saved from DistributedDataParallel or torch.compile
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    expected = model.state_dict()
    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append("missing " + _few(missing))
    if unexpected:
        problems.append("unexpected " + _few(unexpected))
    for k, v in state.items():
        if k in expected and v.shape != expected[k].shape:
            problems.append(f"`{k}` is {list(v.shape)}, the spec needs {list(expected[k].shape)}")
    if problems:
        network = type(model).__name__
        raise ExportError(
            f"{name} do not fit `{network}`: "
            + "; ".join(problems[:4])
            + ("; ..." if len(problems) > 4 else "")
        )
    model.load_state_dict(state)


def _few(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def save_weights(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """`torch.save` a state_dict to `path` atomically (never a partial file)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, buffer.getvalue())
