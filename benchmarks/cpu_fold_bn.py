"""CPU forward time of a spec with its batchnorms folded into the convs (the auto backend on CPU tensors) against
the torch backend (conv, then batchnorm), in eval under `torch.inference_mode`, as a ratio.

    python benchmarks/cpu_fold_bn.py                                  # specs/resnet18.net, batch 1 and 16
    python benchmarks/cpu_fold_bn.py --spec specs/mobilenet_v2.net --batch 1 --iters 30 --threads 1

Both modules get one state dict (running statistics far from the identity) and their outputs are checked to agree
before anything is timed. They run interleaved, in a rotating order, after a warm-up; the table reports medians
and minimums. Without a CUDA device `backend="auto"` resolves to the torch backend unless TRITON_INTERPRET=1, so
this script sets it: the auto backend's CPU path (`backend/runtime/auto_ops.py`) runs PyTorch ops, no Triton.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default=str(ROOT / "specs" / "resnet18.net"))
    p.add_argument("--batch", type=int, action="append", help="batch sizes (default: 1 and 16)")
    p.add_argument("--size", type=int, default=224, help="input height and width")
    p.add_argument("--iters", type=int, default=10, help="timed iterations per module")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    os.environ["TRITON_INTERPRET"] = "1"  # before alexnet_dsl resolves `auto` (see the docstring)

    import torch

    import alexnet_dsl

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unfolded = alexnet_dsl.compile(Path(args.spec), backend="torch").eval()
    folded = alexnet_dsl.compile(Path(args.spec), backend="auto").eval()
    assert "bn=self." in folded.dslc_source, "no conv -> batchnorm chain to fold in this spec"
    with torch.no_grad():
        for name, t in unfolded.state_dict().items():
            if name.endswith("running_mean"):
                t.normal_()
            elif name.endswith("running_var"):
                t.uniform_(0.5, 2.0)
    folded.load_state_dict(unfolded.state_dict())
    print(f"{Path(args.spec).name}, {torch.get_num_threads()} threads, float32, eval, inference_mode")
    print(f"{'batch':>5}  {'torch ms':>9}  {'folded ms':>9}  {'median ratio':>12}  {'min ratio':>9}")
    for batch in args.batch or [1, 16]:
        x = torch.randn(batch, 3, args.size, args.size)
        fns = {"torch": lambda x=x: unfolded(x), "folded": lambda x=x: folded(x)}
        with torch.inference_mode():
            torch.testing.assert_close(fns["folded"](), fns["torch"](), rtol=1e-3, atol=1e-3)
            for _ in range(args.warmup):
                for fn in fns.values():
                    fn()
            times: dict[str, list[float]] = {name: [] for name in fns}
            for i in range(args.iters):
                for name in list(fns)[i % 2 :] + list(fns)[: i % 2]:
                    start = time.perf_counter()
                    fns[name]()
                    times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) for name, t in times.items()}
        low = {name: min(t) for name, t in times.items()}
        print(
            f"{batch:>5}  {med['torch'] * 1e3:>9.1f}  {med['folded'] * 1e3:>9.1f}  "
            f"{med['folded'] / med['torch']:>12.3f}  {low['folded'] / low['torch']:>9.3f}"
        )


if __name__ == "__main__":
    main()
