"""How much of torchvision's classification zoo `dslc import` translates, and whether each round-trips.

    .venv/bin/python scripts/zoo_coverage.py                      # all 68 models of tests/zoo
    .venv/bin/python scripts/zoo_coverage.py --skip-over 200e6    # leave out the ones over 200M parameters
    .venv/bin/python scripts/zoo_coverage.py resnet152 convnext_tiny

Each model of `tests/zoo` (torchvision's definitions in plain torch) is built with its own random weights,
batchnorm statistics and layer scales that matter, imported at a small input it accepts, checked (no
errors, a fixed point of `dslc fmt`), compiled with the torch backend, loaded with
`Translation.state_dict`, and compared in eval mode with the model itself on a batch of 2: as accurate
as PyTorch's own float32 evaluation against float64 (`tests/tolerance.py`). Prints one row per model
(the spec's lines with blocks and flat, the seconds it took) and the totals per family. Not part of the
test run: the biggest (regnet_y_128gf, 645M parameters, 2.6 GB) takes minutes and 10 GB.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tolerance import assert_as_accurate_as_torch  # noqa: E402
from zoo import FAMILIES, ZOO  # noqa: E402

import alexnet_dsl  # noqa: E402
from alexnet_dsl.diagnostics import DslWarning  # noqa: E402
from alexnet_dsl.interop.torch_import import translate  # noqa: E402
from alexnet_dsl.tools.fmt import format_text  # noqa: E402

# the smallest inputs the models accept, where 64x64 is too small
SIZES = {"inception_v3": 75}


def family_of(name: str) -> str:
    return next(family for family, models in FAMILIES.items() if name in models)


def parameters(name: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in ZOO[name]().parameters())


def randomise(model: nn.Module) -> None:
    """Batchnorm statistics and affine parameters that are not the identity, and layer scales of order 1, so
    that each shows in the output."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.num_features, generator=generator) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=generator) - 0.5)
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.copy_(torch.rand(p.shape, generator=generator) + 0.5)


def lines(text: str) -> int:
    return len(text.splitlines())


def run(name: str) -> tuple[str, int, int]:
    """('ok' or why not, the spec's lines with blocks, flat)."""
    torch.manual_seed(0)
    model = ZOO[name]().eval()
    randomise(model)
    size = SIZES.get(name, 64)
    result = translate(model, (1, 3, size, size), name="Imported")
    flat = translate(model, (1, 3, size, size), name="Imported", blocks=False)
    counts = (lines(result.text), lines(flat.text))
    if result.analysis.errors:
        return f"fail (check: {result.analysis.errors[0].message})", *counts
    if format_text(result.text, "<zoo>") != result.text:
        return "fail (not a fixed point of dslc fmt)", *counts
    compiled = alexnet_dsl.compile(result.text, backend="torch").eval()
    compiled.load_state_dict(result.state_dict(model))
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got, ref32 = compiled(x), model(x)
        del compiled
        gc.collect()
        ref64 = model.double()(x.double())  # in place: the biggest model twice over is 10 GB
    try:
        assert_as_accurate_as_torch(got, ref32, ref64, name)
    except AssertionError as e:
        return f"fail ({e})", *counts
    return "ok", *counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="models of the zoo (default: all 68)")
    parser.add_argument("--skip-over", type=float, default=None, metavar="N_PARAMS")
    args = parser.parse_args(argv)
    names = args.models or list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        parser.error(f"not in the zoo: {', '.join(unknown)}")
    warnings.simplefilter("ignore", DslWarning)  # a spec's own warnings (64x64 drops a row here and there)
    print("| model | family | params | result | lines (blocks) | lines (flat) | seconds |")
    print("|---|---|---:|---|---:|---:|---:|")
    totals: dict[str, list[int]] = {}  # family -> [ok, tried, skipped]
    for name in names:
        family, count = family_of(name), parameters(name)
        total = totals.setdefault(family, [0, 0, 0])
        if args.skip_over is not None and count > args.skip_over:
            total[2] += 1
            print(f"| {name} | {family} | {count:,} | skipped | | | |", flush=True)
            continue
        start = time.perf_counter()
        try:
            outcome, with_blocks, flat = run(name)
        except Exception as e:  # a translation that fails is a row, not the end of the table
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            outcome, with_blocks, flat = f"fail ({type(e).__name__}: {first[:200]})", 0, 0
        seconds = time.perf_counter() - start
        total[1] += 1
        total[0] += outcome == "ok"
        shown = (str(with_blocks), str(flat)) if with_blocks else ("", "")
        print(
            f"| {name} | {family} | {count:,} | {outcome} | {shown[0]} | {shown[1]} | {seconds:.1f} |",
            flush=True,
        )
        gc.collect()
    print("\n| family | ok | tried | skipped |")
    print("|---|---:|---:|---:|")
    for family, (ok, tried, skipped) in totals.items():
        print(f"| {family} | {ok} | {tried} | {skipped} |")
    ok, tried, skipped = (sum(t[i] for t in totals.values()) for i in range(3))
    print(f"| all | {ok} | {tried} | {skipped} |")
    return 0 if ok == tried else 1


if __name__ == "__main__":
    sys.exit(main())
