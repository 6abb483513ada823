"""Train a compiled spec with PyTorch's DistributedDataParallel.

Runs unchanged on one process, on several processes of one machine, or across machines:

    python examples/train.py specs/lenet5.net --steps 20
    torchrun --nproc_per_node=2 examples/train.py specs/lenet5.net --steps 20
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --nproc_per_node=4 examples/train.py ...

Data is random (a fixed batch per rank) so the example needs no download; replace `batches` with
a real DataLoader and a DistributedSampler for real training.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import alexnet_dsl


def batches(shape: tuple[int, ...], classes: int, batch: int, rank: int):
    g = torch.Generator().manual_seed(1234 + rank)
    x = torch.randn((batch, *shape[1:]), generator=g)
    y = torch.randint(0, classes, (batch,), generator=g)
    while True:
        yield x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16, help="per process")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--init", choices=("default", "paper"), default="default")
    args = parser.parse_args()

    distributed = "RANK" in os.environ  # set by torchrun
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if distributed else 0
    device = torch.device(
        f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
    )

    torch.manual_seed(0)  # every rank starts from the same weights (DDP also broadcasts rank 0's)
    model = alexnet_dsl.compile(args.spec, init=args.init).to(device)
    analysis = model.dslc_analysis
    shape = tuple(d if isinstance(d, int) else 1 for d in analysis.network.input_dims)
    classes = (
        analysis.output[-1] if analysis.output is not None and isinstance(analysis.output[-1], int) else 10
    )
    if distributed:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    data = batches(shape, classes, args.batch, rank)
    for step in range(args.steps):
        x, y = next(data)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()
        opt.step()
        if rank == 0 and (step % 5 == 0 or step == args.steps - 1):
            print(f"step {step:4d}  loss {loss.item():.4f}", flush=True)
    if distributed:
        # Every rank reaches the end before any tears its connections down: a peer closing early makes
        # gloo's transport thread raise "connection closed by peer" in a rank still shutting down.
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
