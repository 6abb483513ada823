"""How light and how linear `dslc check` is.

1. Start-up: a whole `dslc check specs/alexnet.net` process against a `python -c "import lark"`
   process, interleaved, medians over many runs; prints the ratio (goal: at most 3x).
2. Scaling: check time of generated specs of 1,000 to 100,000 layers; prints time per layer, which
   must stay flat (linear time).

    .venv/bin/python benchmarks/check_speed.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def startup(runs: int, bytecode: bool) -> float:
    if bytecode:
        # a regular `pip install` compiles the package's bytecode, as lark's was; an editable install
        # under PYTHONDONTWRITEBYTECODE=1 (set on our machines) would recompile every module per run
        import compileall

        compileall.compile_dir(str(ROOT / "alexnet_dsl"), quiet=1)
    base = [sys.executable, "-c", "import lark"]
    check = [sys.executable, "-m", "alexnet_dsl.cli.main", "check", "-q", "specs/alexnet.net"]
    timed(check)  # warm the parser cache and the OS file cache
    a, b = [], []
    for _ in range(runs):
        a.append(timed(base))
        b.append(timed(check))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"python -c 'import lark'        median {ma * 1000:7.1f} ms")
    print(f"dslc check specs/alexnet.net   median {mb * 1000:7.1f} ms")
    print(f"ratio                          {mb / ma:7.2f}x  (goal <= 3x)")
    return mb / ma


def big_spec(layers: int) -> str:
    """A long chain with a block, branches and assertions every so often."""
    lines = [
        "block cr(f) {",
        "    conv(f, kernel=3, padding=1)",
        "    relu",
        "}",
        "",
        "network Big(x: [N, 8, 32, 32]) {",
    ]
    n = 0
    while n < layers:
        lines.append(f"    c{n}: conv(8, kernel=3, padding=1)")
        lines.append(f"    r{n}: relu                            -> [N, 8, 32, 32]")
        lines.append(f"    b{n}: cr(8)")
        lines.append(f"    j{n}: add(b{n}, c{n})")
        n += 5  # the block counts as two layers
    lines.append("}")
    return "\n".join(lines) + "\n"


def scaling(sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> None:
    from alexnet_dsl.analysis.pipeline import check_text

    print(f"\n{'layers':>8} {'check time':>12} {'per layer':>12}")
    for layers in sizes:
        text = big_spec(layers)
        start = time.perf_counter()
        a = check_text(text)
        elapsed = time.perf_counter() - start
        assert a.ok, [d.message for d in a.errors][:3]
        print(f"{len(a.infos):>8} {elapsed:>10.2f} s {elapsed / len(a.infos) * 1e6:>9.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="do not compile alexnet_dsl's bytecode first (measures the worst case)",
    )
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="layer counts of the scaling table, comma-separated"
    )
    args = parser.parse_args()
    startup(args.runs, bytecode=not args.no_bytecode)
    scaling(tuple(int(n) for n in args.sizes.split(",")))


if __name__ == "__main__":
    main()
