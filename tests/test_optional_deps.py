"""A fresh machine: every optional dependency missing, one line naming the extra to install, never a traceback.

Each case runs in a subprocess whose first statement installs a meta-path finder that refuses the named modules,
as `pip install .` without extras leaves them; the finder records every import it was asked for, so a test can
also say what a command did not even try to import.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
ALEXNET = ROOT / "specs" / "alexnet.net"
OPTIONAL = (
    "torch",
    "numpy",
    "triton",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "graphviz",
    "pygments",
    "hypothesis",
)
TORCH = ("torch", "numpy")
ONNX = ("onnx", "onnxscript", "onnxruntime")

# argv[1]: the modules to refuse; argv[2]: a file for the names of the refused imports that were attempted
ABSENT = '''
import sys

class _Absent:
    """Finds nothing for the refused modules, as on a machine where they are not installed."""

    def __init__(self, names, log):
        self.names, self.log = names, log

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            with open(self.log, "a") as f:
                f.write(name.partition(".")[0] + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Absent(set(sys.argv[1].split(",")), sys.argv[2]))
del sys.argv[1:3]
'''


def run_without(
    absent: tuple[str, ...], code: str, *args: str, tmp_path: Path
) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `code` in a fresh interpreter where `absent` cannot be imported; also the refused imports it tried."""
    log = tmp_path / "attempts.txt"
    log.write_text("")
    r = subprocess.run(
        [sys.executable, "-c", ABSENT + code, ",".join(absent), str(log), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    return r, set(log.read_text().split())


def dslc_without(absent: tuple[str, ...], *argv: str, tmp_path: Path):
    return run_without(
        absent,
        "from alexnet_dsl.cli.main import main\nsys.exit(main(sys.argv[1:]))",
        *argv,
        tmp_path=tmp_path,
    )


def assert_one_line_naming(stderr: str, extras: str) -> None:
    """Exactly one line, `dslc: error: ... pip install 'alexnet-dsl[EXTRAS]'`, no traceback, no bug report."""
    assert stderr.count("\n") == 1 and stderr.startswith("dslc: error: "), stderr
    assert stderr.rstrip().endswith(f"pip install 'alexnet-dsl[{extras}]'"), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr


# ---------------------------------------------------------------------------- commands that need no extra


@pytest.mark.parametrize(
    "argv, output",
    [
        (["check", "--color", "always", "{spec}"], None),  # colour without pygments: plain source lines
        (["check", "--format", "json", "{spec}"], None),
        (["summary", "{spec}"], None),
        (["fmt", "--check", "{spec}"], None),
        (["explain", "E0301"], None),
        (["graph", "{spec}"], None),  # DOT on stdout
        (["graph", "{spec}", "-o", "a.dot"], "a.dot"),
        (["graph", "{spec}", "-o", "a.gv"], "a.gv"),
        (["compile", "{spec}", "-o", "a.py"], "a.py"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_commands_that_need_only_lark_work_without_every_optional_dependency(tmp_path, argv, output):
    argv = [str(ALEXNET) if a == "{spec}" else a for a in argv]
    r, tried = dslc_without(OPTIONAL, *argv, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "error" not in r.stderr, r.stderr
    if output is not None:
        assert (tmp_path / output).stat().st_size > 0
    # not even attempted: `dslc check` must not import torch, triton or numpy (they are slow, and absent here)
    assert not tried & {"torch", "triton", "numpy"}, tried


def test_dot_needs_no_graphviz_and_is_what_graphviz_accepts(tmp_path):
    """DOT is written by dslc itself, without the `graphviz` Python package, and Graphviz reads it."""
    r, tried = dslc_without(OPTIONAL, "graph", str(ALEXNET), tmp_path=tmp_path)
    assert r.returncode == 0 and "graphviz" not in tried, r.stderr
    assert r.stdout.startswith("digraph AlexNet {\n") and r.stdout.endswith("}\n")
    dot = shutil.which("dot")
    if dot is not None:  # Graphviz parses it without a word (scripts/setup.sh installs it)
        laid_out = subprocess.run([dot, "-Tsvg"], input=r.stdout, capture_output=True, text=True, timeout=120)
        assert laid_out.returncode == 0 and laid_out.stderr == "", laid_out.stderr


def test_svg_and_report_without_python_extras(tmp_path):
    """SVG needs Graphviz's `dot` program, not a Python package; without `dot`, one line (exit 2)."""
    r, _ = dslc_without(OPTIONAL, "graph", str(ALEXNET), "-o", "a.svg", tmp_path=tmp_path)
    page, _ = dslc_without(OPTIONAL, "report", str(ALEXNET), "-o", "a.html", tmp_path=tmp_path)
    assert page.returncode == 0 and (tmp_path / "a.html").read_text().startswith("<!DOCTYPE html>")
    if shutil.which("dot") is not None:
        assert r.returncode == 0 and (tmp_path / "a.svg").read_text().lstrip().startswith("<?xml"), r.stderr
        assert page.stderr.count("\n") == 1 and "warning" not in page.stderr, page.stderr
        assert "<svg" in (tmp_path / "a.html").read_text()
    else:
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "apt-get install graphviz" in r.stderr
        assert "dslc: warning: no diagram" in page.stderr


# ---------------------------------------------------------------------------- commands that need an extra


@pytest.mark.parametrize(
    "absent, argv, extras",
    [
        (OPTIONAL, ["export", "{spec}", "--onnx", "a.onnx"], "torch,onnx"),
        (TORCH, ["export", "{spec}", "--onnx", "a.onnx"], "torch"),  # only the onnx extra installed
        (ONNX, ["export", "{spec}", "--onnx", "a.onnx"], "onnx"),
        (("onnxscript",), ["export", "{spec}", "--onnx", "a.onnx"], "onnx"),
        (OPTIONAL, ["import", "torch.nn:Identity", "--input-shape", "1,3,8,8"], "torch"),
    ],
    ids=["export-bare", "export-onnx-only", "export-torch-only", "export-no-onnxscript", "import-bare"],
)
def test_commands_that_need_an_extra_name_it_in_one_line(tmp_path, absent, argv, extras):
    argv = [str(ALEXNET) if a == "{spec}" else a for a in argv]
    r, _ = dslc_without(absent, *argv, tmp_path=tmp_path)
    assert r.returncode == 2
    assert_one_line_naming(r.stderr, extras)
    assert r.stdout == "" and not (tmp_path / "a.onnx").exists()


def test_an_optional_import_deep_inside_any_command_is_one_line(tmp_path):
    """The safety net in `dslc`'s main: a command that did not declare what it needs still says the extra."""
    code = (
        "from alexnet_dsl.cli import check, main as cli\n"
        "def cmd_explain(args):\n    import torch.nn\n"
        "check.cmd_explain = cmd_explain\n"
        "sys.exit(cli.main(['explain', 'E0301']))"
    )
    r, _ = run_without(TORCH, code, tmp_path=tmp_path)
    assert r.returncode == 2
    assert_one_line_naming(r.stderr, "torch")
    assert "`dslc explain` needs torch" in r.stderr


# ---------------------------------------------------------------------------- the Python API

SPEC = "network T(x: [N, 3, 8, 8]) -> [N, 4, 6, 6] {\\n    c: conv(4, kernel=3)\\n}\\n"
CONV = "x = torch.zeros(1, 3, 8, 8); w = torch.zeros(4, 3, 3, 3)\n"


@pytest.mark.parametrize(
    "absent, call, extras",
    [
        (TORCH, f"alexnet_dsl.compile('{SPEC}')", "torch"),
        (("triton",), f"alexnet_dsl.compile('{SPEC}', backend='triton')", "triton"),
        (TORCH, "alexnet_dsl.from_torch(None, (1, 3, 8, 8))", "torch"),
        (OPTIONAL, f"alexnet_dsl.export_onnx('{SPEC}', 'a.onnx')", "torch,onnx"),
        (ONNX, f"alexnet_dsl.export_onnx('{SPEC}', 'a.onnx')", "onnx"),
        (("hypothesis",), "import alexnet_dsl.testing", "test"),
        (
            TORCH,
            f"from alexnet_dsl.testing import assert_shapes\nassert_shapes('{SPEC}', (1, 3, 8, 8))",
            "torch",
        ),
        (TORCH, "import alexnet_dsl.kernels", "torch"),
        (
            ("triton",),
            f"import torch\nfrom alexnet_dsl.kernels import fused_conv2d\n{CONV}fused_conv2d(x, w, None)",
            "triton",
        ),
        (OPTIONAL, "import alexnet_dsl.interop.onnx_export", "torch,onnx"),  # as docs/interop.md writes it
        (TORCH, "from alexnet_dsl.interop.torch_import import translate", "torch"),
    ],
    ids=[
        "compile",
        "compile-triton",
        "from_torch",
        "export_onnx-bare",
        "export_onnx-torch-only",
        "testing",
        "assert_shapes",
        "kernels",
        "fused_conv2d",
        "onnx_export-module",
        "importer-module",
    ],
)
def test_api_entry_points_raise_one_line_module_not_found(tmp_path, absent, call, extras):
    code = (
        "import json, os\nos.environ['TRITON_INTERPRET'] = '1'\nimport alexnet_dsl\ntry:\n"
        + "".join(f"    {line}\n" for line in call.splitlines())
        + "except ModuleNotFoundError as e:\n"
        "    print(json.dumps([type(e).__name__, str(e)]))\n"
        "else:\n    print(json.dumps(None))\n"
    )
    r, _ = run_without(absent, code, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    kind, message = json.loads(r.stdout.splitlines()[-1])
    assert kind == "MissingExtra" and "\n" not in message, message
    assert message.endswith(f"pip install 'alexnet-dsl[{extras}]'"), message
    assert re.search(r"needs \w+", message) and not (tmp_path / "a.onnx").exists()


def test_check_api_needs_nothing_optional_and_works_twice(tmp_path):
    code = (
        f"import alexnet_dsl\na = alexnet_dsl.check('{SPEC}')\nb = alexnet_dsl.check({str(ALEXNET)!r})\n"
        "print(a.ok, b.params)"
    )
    r, tried = run_without(OPTIONAL, code, tmp_path=tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["True", "60965224"], r.stderr
    assert not tried & {"torch", "triton", "numpy"}, tried
