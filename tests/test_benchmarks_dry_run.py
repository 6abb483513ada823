"""A small dry run of each CPU benchmark: the scripts run and print their ratios (the numbers themselves are
machine-dependent and not asserted; benchmarks are not part of the test run). The GPU benchmark's dry run
is in tests/kernels/test_kernels_benchmark_dry_run.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(script: str, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def ratio(text: str, label: str) -> float:
    found = re.search(rf"{label}\D*([0-9]+\.[0-9]+)", text)
    assert found, text
    return float(found.group(1))


def test_check_speed_prints_its_ratio_and_scaling_table():
    out = run("check_speed.py", "--runs", "1", "--sizes", "20,40")
    assert ratio(out, "ratio") > 0
    rows = re.findall(r"^\s+(\d+)\s+[0-9.]+ s\s+[0-9.]+ us$", out, re.M)
    assert [int(n) for n in rows] == [20, 40], out


@pytest.mark.parametrize("extra", [(), ("--ops",)], ids=["network", "ops"])
def test_cpu_forward_prints_its_ratios(extra):
    out = run("cpu_forward.py", "--batch", "1", "--iters", "1", "--warmup", "0", "--no-compile", *extra)
    if extra:  # a row per op: baseline ms, ours ms, ratio
        rows = re.findall(r"^\S.*?\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", out, re.M)
        assert len(rows) >= 5 and all(float(r) > 0 for *_, r in rows), out
    else:
        assert ratio(out, "ratio eager ours / eager baseline:") > 0
