"""benchmarks/gpu_blocks.py keeps working on machines without a GPU: its dry run checks the kernel in the interpreter
and reports the cost model, which must agree with the figures in /work/shared/REFERENCE.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# REFERENCE.md, "The GPU side": floors at batch 128 on an H100 SXM, microseconds
FLOORS_US = {
    ("conv1+relu+lrn", "tf32"): 68,
    ("conv1+relu+lrn", "bf16"): 34,
    ("conv2+relu+lrn", "tf32"): 116,
    ("conv2+relu+lrn", "bf16"): 58,
}
GFLOP = {"conv1+relu+lrn": 27.0, "conv2+relu+lrn": 57.3}


def test_dry_run(tmp_path: Path) -> None:
    out = tmp_path / "gpu_blocks.json"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # the script must set it itself
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_blocks.py"), "--dry-run", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "dry-run"
    for row in report["shapes"]:
        # REFERENCE.md prints the floors rounded to whole microseconds, GFLOP to one decimal ("~68 us" is a
        # rounded maximum of two floors): equal to within half a unit of the last printed digit
        assert row["floor_s"] * 1e6 == pytest.approx(FLOORS_US[(row["block"], row["mode"])], abs=0.5)
        assert row["gflop"] == pytest.approx(GFLOP[row["block"]], abs=0.05)
    checks = report["checks"]
    assert len(checks) == 4 and all(c["ok"] for c in checks)
    for c in checks:
        # Per element, within the rounding-error bound of the kernel's precision mode around the float64 value.
        assert c["problem"] is None and c["max_error_over_bound"] <= 1
        # Strong enough to see a wrong LRN window, or LRN reduced to a constant, in every precision: more than twice
        # the bound away somewhere, so a kernel computing them fails even with its own rounding error.
        assert c["wrong_window_over_bound"] > 2 and c["lrn_effect_over_bound"] > 2
