"""The dslc command line: exit codes, JSON contract, explain, stdin, and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alexnet_dsl.cli.main import main
from alexnet_dsl.codes import CODES, markdown

ROOT = Path(__file__).parents[2]
ALEXNET = ROOT / "specs" / "alexnet.net"
BAD = ROOT / "tests" / "data" / "bad" / "alexnet_224.net"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alexnet_dsl.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )


def test_check_ok_exits_0():
    r = run("check", str(ALEXNET))
    assert r.returncode == 0
    assert "conv1" in r.stdout and "[N, 96, 55, 55]" in r.stdout
    assert "ok" in r.stderr


def test_check_error_exits_1_and_renders_like_rustc():
    r = run("check", str(BAD))
    assert r.returncode == 1
    err = r.stderr
    assert "error[E0301]:" in err
    assert f"--> {BAD}:3:" in err
    assert "^" in err and "= note:" in err and "= help:" in err
    assert "227" in err and "54.25" in err
    assert err.count("error[") == 1  # one mistake, one error
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ("check", "missing.net"),
        ("check", "tests"),
        ("summary", "missing.net"),
        ("explain", "E9999"),
        ("check",),
        ("frobnicate",),
    ],
)
def test_usage_and_io_problems_exit_2(args):
    r = run(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "error" in r.stderr.strip().splitlines()[-1]


def test_check_json_contract():
    r = run("check", "--format", "json", str(BAD))
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert set(doc) >= {
        "file",
        "network",
        "ok",
        "input",
        "output",
        "params",
        "macs",
        "layers",
        "admissible",
        "diagnostics",
    }
    assert doc["ok"] is False and doc["network"] == "AlexNet"
    assert doc["input"] == ["N", 3, 224, 224] and doc["output"] == ["N", 1000]
    layer = doc["layers"][0]
    assert set(layer) >= {"name", "op", "shape", "params", "macs", "line"}
    assert layer["name"] == "conv1" and layer["op"] == "conv" and layer["line"] == 3
    errors = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert len(errors) == 1
    d = errors[0]
    assert d["code"] == "E0301" and d["line"] == 3
    assert d["column"] >= 1 and d["end_column"] > d["column"] and d["end_line"] == 3
    assert all(x["severity"] in ("error", "warning", "note") for x in doc["diagnostics"])


def test_json_lists_several_files_and_nulls_symbolic_counts(tmp_path):
    spec = tmp_path / "sym.net"
    spec.write_text(
        ALEXNET.read_text()
        .replace("[N, 3, 227, 227]", "[N, 3, H, W]")
        .replace("-> [N, 96, 55, 55]", "")
        .replace("-> [N, 96, 27, 27]", "")
        .replace("-> [N, 256, 27, 27]", "")
        .replace("-> [N, 256, 13, 13]", "")
    )
    r = run("check", "--format", "json", str(ALEXNET), str(spec))
    assert r.returncode == 0
    docs = json.loads(r.stdout)
    assert isinstance(docs, list) and len(docs) == 2
    assert docs[0]["params"] == 60_965_224 and docs[0]["macs"] == 724_406_816
    assert docs[1]["admissible"] == {"H": [[227, 258]], "W": [[227, 258]]}
    assert docs[1]["macs"] is None
    assert docs[1]["layers"][0]["shape"][2] == "(H - 7) // 4"


def test_unbounded_admissible_is_null(tmp_path):
    spec = tmp_path / "open.net"
    spec.write_text("network Open(x: [N, 3, H, W]) {\n    conv(8, kernel=3)\n}\n")
    doc = json.loads(run("check", "--format", "json", str(spec)).stdout)
    assert doc["admissible"] == {"H": [[3, None]], "W": [[3, None]]}


def test_summary_table_and_json():
    r = run("summary", str(ALEXNET))
    assert r.returncode == 0
    assert "60,965,224" in r.stdout and "724,406,816" in r.stdout
    assert "conv1+relu1+lrn1" in r.stdout
    doc = json.loads(run("summary", "--format", "json", str(ALEXNET)).stdout)
    assert doc["params"] == 60_965_224
    assert doc["layers"][0]["fused"] == "conv1+relu1+lrn1"


def test_summary_exit_1_on_errors():
    assert run("summary", str(BAD)).returncode == 1


def test_explain_matches_docs():
    r = run("explain", "E0301")
    assert r.returncode == 0
    assert CODES["E0301"].explanation in r.stdout
    assert (ROOT / "docs" / "errors.md").read_text() == markdown()


def test_stdin():
    r = run("check", "-", stdin=ALEXNET.read_text())
    assert r.returncode == 0


def test_invalid_utf8_and_nul_are_diagnostics(tmp_path):
    for name, data in [
        ("utf8.net", b"network A(x: [N, 3, 8, 8]) {\n  relu \xff\xfe\n}\n"),
        ("nul.net", b"network A(x: [N, 3, 8, 8]) {\n  relu\x00\n}\n"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        r = run("check", str(path))
        assert r.returncode == 1, r.stderr
        assert "error[E0002]" in r.stderr and "Traceback" not in r.stderr


def test_main_in_process(capsys):
    assert main(["check", "-q", str(ALEXNET)]) == 0
    assert main(["check", "-q", str(BAD)]) == 1


def test_color_only_when_asked(tmp_path):
    plain = run("check", str(BAD)).stderr
    assert "\x1b[" not in plain
    coloured = run("check", "--color", "always", str(BAD)).stderr
    assert "\x1b[" in coloured


def test_check_does_not_import_torch_triton_numpy():
    code = (
        "import sys; from alexnet_dsl.cli.main import main; main(['check', '-q', 'specs/alexnet.net']); "
        "print(sorted(m for m in ('torch', 'triton', 'numpy') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_json_of_a_file_that_does_not_parse():
    r = run("check", "--format", "json", "-", stdin="network A(x: [N, 3, 8, 8]) {\n conv(3 kernel=3)\n}\n")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["network"] is None and doc["layers"] == []
    assert doc["params"] is None and doc["macs"] is None
    assert [(d["code"], d["line"]) for d in doc["diagnostics"]] == [("E0001", 2)]


def test_windows_files_byte_order_mark_and_crlf(tmp_path):
    """A spec saved by a Windows editor (BOM, CRLF) checks like any other; snippets show no `\\r`."""
    good = tmp_path / "good.net"
    good.write_bytes(
        b"\xef\xbb\xbfnetwork T(x: [N, 3, 8, 8]) {\r\n    conv(4, kernel=3)\r\n    relu\r\n}\r\n"
    )
    r = run("check", str(good))
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.net"
    bad.write_bytes(b"\xef\xbb\xbfnetwork T(x: [N, 3, 8, 8]) {\r\n    conv(4, kernel=9)\r\n}\r\n")
    r = run("check", str(bad))
    assert r.returncode == 1
    assert f"--> {bad}:2:20" in r.stderr and "2 |     conv(4, kernel=9)\n" in r.stderr
    assert "\\r" not in r.stderr and "\\x0d" not in r.stderr


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_a_missing_file_among_several_does_not_hide_the_others(tmp_path, fmt):
    good, bad = tmp_path / "good.net", tmp_path / "bad.net"
    good.write_text(ALEXNET.read_text())
    bad.write_text(BAD.read_text())
    missing = tmp_path / "missing.net"
    r = run("check", "--format", fmt, str(good), str(missing), str(bad))
    assert r.returncode == 2  # an unreadable file is a usage problem, whatever the others say
    assert r.stderr.count(f"cannot read `{missing}`: no such file") == 1
    if fmt == "json":
        docs = json.loads(r.stdout)
        # one entry per file named, in order: the missing one says why, in its place
        assert [d["file"] for d in docs] == [str(good), str(missing), str(bad)]
        assert [d["ok"] for d in docs] == [True, False, False]
        assert docs[1]["error"] == f"cannot read `{missing}`: no such file" and docs[1]["network"] is None
    else:
        assert f"{good}: AlexNet: ok" in r.stderr and f"{bad}: AlexNet: 1 error" in r.stderr
        assert "error[E0301]" in r.stderr
    summary = run("summary", str(missing), str(good))
    assert summary.returncode == 2 and "conv1" in summary.stdout and "missing.net" in summary.stderr


def test_sizes_on_the_command_line_take_ascii_digits_only():
    from alexnet_dsl.cli.common import parse_sizes

    assert parse_sizes("H=227,W=227") == {"H": 227, "W": 227}
    for text in ("H=２２７", "H=٣"):  # int() would read both
        with pytest.raises(ValueError, match="NAME=INT"):
            parse_sizes(text)


def test_json_for_a_missing_file_alone_is_its_entry(tmp_path):
    missing = tmp_path / "missing.net"
    for command in ("check", "summary"):
        r = run(command, "--format", "json", str(missing))
        assert r.returncode == 2 and "no such file" in r.stderr
        doc = json.loads(r.stdout)  # JSON on stdout all the same: one object, as for one readable file
        assert doc == {
            "file": str(missing),
            "network": None,
            "ok": False,
            "error": f"cannot read `{missing}`: no such file",
            "diagnostics": [],
        }


@pytest.mark.parametrize(
    "text",
    [
        "network Named(x: [N, 3, 8, 8]) {\n    conv(3 kernel=3)\n}\n",  # a syntax error
        "network Named(x: [N, 3, N, N]) {\n    relu\n}\n",  # an input shape that cannot be checked
    ],
)
def test_verdict_names_the_network_even_when_it_could_not_be_checked(text):
    r = run("check", "-q", "-", stdin=text)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "<stdin>: Named: 1 error, 0 warnings"


def test_bad_memory_budget_variable_is_named_by_dslc_compile(tmp_path):
    env = {**os.environ, "NO_COLOR": "1", "DSLC_MEMORY_BUDGET": "-1"}
    r = subprocess.run(
        [sys.executable, "-m", "alexnet_dsl.cli.main", "compile", str(ALEXNET), "-o", str(tmp_path / "a.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2 and "internal error" not in r.stderr
    assert "DSLC_MEMORY_BUDGET='-1'" in r.stderr and "negative" in r.stderr
