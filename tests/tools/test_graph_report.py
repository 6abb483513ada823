"""`dslc graph` and `dslc report`: nodes, clusters and edges; a self-contained page a browser renders."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from alexnet_dsl.analysis.pipeline import check_file, check_text
from alexnet_dsl.backend.fuse import fused_groups
from alexnet_dsl.cli.main import main
from alexnet_dsl.tools.diagram import dot_source

ROOT = Path(__file__).parents[2]
ALEXNET = ROOT / "specs" / "alexnet.net"
RESNET = ROOT / "specs" / "resnet18.net"
BAD = ROOT / "tests" / "data" / "bad" / "alexnet_224.net"
NODE = re.compile(r"^\s*(L\d+|input) \[", re.M)
EDGE = re.compile(r"^\s*(L\d+|input) -> (L\d+)", re.M)


def dot_of(path: Path) -> tuple[str, object]:
    a = check_file(path)
    return dot_source(a, fused_groups(a.network)), a


def clusters(dot: str) -> list[tuple[str, list[str]]]:
    """(label, node ids declared directly inside) for each cluster."""
    out = []
    for m in re.finditer(r"subgraph (cluster_\d+) \{\n(.*?)\n\t*\}", dot, re.S):
        body = m.group(2)
        label = re.search(r'label=("[^"]*"|\S+)', body.split("\n")[0])
        out.append((label.group(1).strip('"') if label else "", NODE.findall(body)))
    return out


def test_alexnet_graph_nodes_clusters_edges():
    dot, a = dot_of(ALEXNET)
    layers = a.network.layers
    ids = NODE.findall(dot)
    assert len(ids) == len(set(ids)) == len(layers) + 1  # one node per layer, and the input
    assert EDGE.findall(dot) == [("input", "L0")] + [(f"L{i}", f"L{i + 1}") for i in range(len(layers) - 1)]
    fused = [members for label, members in clusters(dot) if label == "fused"]
    names = {f"L{i}": layer.name for i, layer in enumerate(layers)}
    assert sorted("+".join(names[m] for m in ms) for ms in fused) == sorted(
        set(fused_groups(a.network).values())
    )
    conv2 = re.search(r"^\s*L4 \[.*$", dot, re.M).group()
    assert "groups 2" in conv2 and "peripheries=2" in conv2 and "[N, 256, 27, 27]" in conv2
    conv1 = re.search(r"^\s*L0 \[.*$", dot, re.M).group()
    assert "96 filters" in conv1 and "11×11" in conv1 and "stride 4" in conv1 and "peripheries" not in conv1


def test_resnet_graph_draws_branches_and_joins():
    dot, a = dot_of(RESNET)
    layers = a.network.layers
    assert len(NODE.findall(dot)) == len(layers) + 1
    edges = EDGE.findall(dot)
    assert len(edges) == sum(len(layer.inputs) for layer in layers)
    index = {f"L{i}": layer for i, layer in enumerate(layers)}
    into = {dst: [s for s, d in edges if d == dst] for dst in index}
    joins = [d for d, srcs in into.items() if len(srcs) == 2]
    assert len(joins) == 8 and all(index[d].op.__class__.__name__ == "Add" for d in joins)
    forks = {s for s, _ in edges if sum(1 for x, _ in edges if x == s) == 2}
    assert len(forks) == 8  # every residual block's input feeds two branches
    instances = [label for label, _ in clusters(dot) if label != "fused"]
    assert instances == [
        f"layer{i}_{j}: {'down' if j == 0 and i > 1 else 'basic'}" for i in range(1, 5) for j in range(2)
    ]


def test_graph_of_a_spec_with_errors_marks_the_bad_layer():
    a = check_text("network N(x: [N, 3, 8, 8]) {\n    c: conv(4, kernel=3)\n    d: frobnicate(2)\n}\n")
    dot = dot_source(a, {})
    assert len(NODE.findall(dot)) == 3
    assert re.search(r'L1 \[.*frobnicate.*color="#cc0000"', dot)


@pytest.mark.parametrize("ext, magic", [("svg", b"<svg"), ("png", b"\x89PNG"), ("dot", b"digraph AlexNet")])
def test_graph_command_writes_each_format(tmp_path: Path, ext: str, magic: bytes, capsys):
    out = tmp_path / f"alexnet.{ext}"
    assert main(["graph", str(ALEXNET), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert magic in data[:400]
    if ext == "svg":
        assert data.count(b'class="node"') == len(check_file(ALEXNET).network.layers) + 2  # input, output
    assert capsys.readouterr().err == f"{out}: AlexNet, 24 layers\n"


def test_graph_command_usage_errors(tmp_path: Path, capsys):
    assert main(["graph", str(ALEXNET), "-o", str(tmp_path / "x.jpg")]) == 2
    assert main(["graph", str(ALEXNET), "-o", str(ALEXNET) + ".svg", "--format", "dot"]) == 0
    assert main(["graph", str(ALEXNET), "-o", str(ALEXNET), "--format", "svg"]) == 2  # never over the input
    assert ALEXNET.read_text().startswith("# AlexNet")
    Path(str(ALEXNET) + ".svg").unlink()
    assert main(["graph", str(BAD), "-o", str(tmp_path / "bad.svg")]) == 1  # drawn, but the spec has errors
    assert (tmp_path / "bad.svg").exists()
    err = capsys.readouterr().err
    assert "x.jpg" in err and "error[E0301]" in err and "Traceback" not in err


def test_missing_dot_is_one_clear_line(tmp_path: Path):
    env = {**os.environ, "PATH": str(tmp_path), "NO_COLOR": "1"}  # no `dot` on PATH

    def dslc(*args: str) -> subprocess.CompletedProcess:
        code = "import sys; from alexnet_dsl.cli.main import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
        )

    for out in ("a.svg", "a.png"):
        r = dslc("graph", str(ALEXNET), "-o", str(tmp_path / out))
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "apt-get install graphviz" in r.stderr, r.stderr
        assert "OUT.dot" in r.stderr and not (tmp_path / out).exists()
    # the report is still written, with the reason in place of the diagram, and a warning
    r = dslc("report", str(ALEXNET), "-o", str(tmp_path / "a.html"))
    assert r.returncode == 0, r.stderr
    assert "dslc: warning: no diagram" in r.stderr and "apt-get install graphviz" in r.stderr
    page = (tmp_path / "a.html").read_text()
    assert "<svg" not in page and 'class="missing"' in page and "conv1" in page
    r = dslc("graph", str(ALEXNET), "-o", str(tmp_path / "a.dot"))  # DOT needs no Graphviz
    assert r.returncode == 0 and (tmp_path / "a.dot").read_text().startswith("digraph")


# ---------------------------------------------------------------------------- report


def write_report(tmp_path: Path, spec: Path) -> tuple[Path, int]:
    out = tmp_path / f"{spec.stem}.html"
    return out, main(["report", str(spec), "-o", str(out)])


def test_report_is_self_contained(tmp_path: Path):
    out, code = write_report(tmp_path, ALEXNET)
    assert code == 0
    page = out.read_text()
    assert "http://" not in page and "https://" not in page
    for loader in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src="):
        assert loader not in page
    assert "default-src 'none'" in page  # and the browser would refuse to fetch anything anyway
    assert page.count("<svg") == 1 and '<table id="layers">' in page
    assert "60,965,224" in page and "724,406,816" in page and "conv1+relu1+lrn1" in page


def test_report_shows_diagnostics_escaped(tmp_path: Path):
    spec = tmp_path / "evil.net"
    spec.write_text(BAD.read_text().replace("relu", "relu  # <script>alert('x')</script> & <b>", 1))
    out, code = write_report(tmp_path, spec)
    assert code == 1  # the spec has errors: written anyway, with them
    page = out.read_text()
    assert "<script" not in page and "&lt;script&gt;" in page and "&amp; &lt;b&gt;" in page
    assert page.count('<pre class="diag error">') == 1 and page.count('<pre class="diag warning">') == 1
    assert "error[E0301]: `conv1` produces [N, 96, 54, 54], but [N, 96, 55, 55] is asserted" in page
    assert "^^^^^^^^^^^^^^^ height is 54; width is 54" in page  # the rendered source line and caret


def test_report_admissible_sizes_and_no_network(tmp_path: Path):
    spec = tmp_path / "hw.net"
    text = ALEXNET.read_text().replace("[N, 3, 227, 227]", "[N, 3, H, W]")
    spec.write_text(re.sub(r"(conv1: .*\))\s+-> \[N, 96, 55, 55\]", r"\1", text))  # only pool5 asserted
    out, code = write_report(tmp_path, spec)
    assert code == 0
    assert re.search(r'<ul id="admissible"><li><code>H</code> in 227\.\.\d+</li>', out.read_text())
    broken = tmp_path / "broken.net"
    broken.write_text("network N(x: [N, 3]) {\n    relu(\n}\n")
    out, code = write_report(tmp_path, broken)
    assert code == 1 and "error[E0001]" in out.read_text() and "<svg" not in out.read_text()


# ---------------------------------------------------------------------------- in a real browser


def chromium(page: Path, *action: str, tmp_path: Path) -> subprocess.CompletedProcess:
    exe = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    if exe is None:
        pytest.fail("chromium is not installed (apt-get install chromium): the report is tested in a browser")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    args = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *action,
        page.as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB(A) PNG as an array (height, width, channels): zlib and the five row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data[pos + 8 : pos + 8 + length])
        elif kind == b"IDAT":
            idat.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and not interlace, header
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), np.uint8)
    prev = np.zeros(width * bpp, np.int64)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: a running sum per channel
            cur = line.reshape(width, bpp).cumsum(axis=0).reshape(-1) & 255
        elif kind == 2:  # Up
            cur = (line + prev) & 255
        else:  # Average and Paeth depend on the pixel just decoded: one at a time
            row, up, c = line.tolist(), prev.tolist(), [0] * len(line)
            for i in range(len(row)):
                a = c[i - bpp] if i >= bpp else 0
                b, d = up[i], (up[i - bpp] if i >= bpp else 0)
                if kind == 3:
                    c[i] = (row[i] + (a + b) // 2) & 255
                else:
                    p = a + b - d
                    pa, pb, pd = abs(p - a), abs(p - b), abs(p - d)
                    c[i] = (row[i] + (a if pa <= pb and pa <= pd else b if pb <= pd else d)) & 255
            cur = np.array(c, np.int64)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)


def test_report_in_a_headless_browser(tmp_path: Path):
    page, code = write_report(tmp_path, BAD)
    assert code == 1
    dom = chromium(page, "--dump-dom", tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="layers">' in dom.stdout
    rows = re.findall(r"<tr[ >]", dom.stdout)
    assert len(rows) == len(check_file(BAD).infos) + 2  # header, input, one per layer
    assert dom.stdout.count('class="node"') == len(check_file(BAD).network.layers) + 2  # input, output
    assert "error[E0301]" in dom.stdout
    assert console_messages(dom.stderr) == []

    shot = tmp_path / "shot.png"
    r = chromium(page, f"--screenshot={shot}", "--window-size=1200,1600", tmp_path=tmp_path)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    pixels = decode_png(shot.read_bytes())[:, :, :3].astype(float)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 20  # not blank
    colours = {tuple(p) for p in pixels[::8, ::8].reshape(-1, 3)}
    assert len(colours) > 50  # text, diagram colours, table lines
    assert console_messages(r.stderr) == []


def test_browser_console_errors_are_detected(tmp_path: Path):
    """The check above can fail: a page that throws, or fetches despite its policy, is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        'script-src \'unsafe-inline\'"><p>x</p><script>throw new Error("boom")</script>'
    )
    r = chromium(page, "--dump-dom", tmp_path=tmp_path)
    assert any("Uncaught Error: boom" in line for line in console_messages(r.stderr)), r.stderr[-2000:]


def test_graph_marks_the_output_layer_with_an_edge_to_an_output_node():
    """The returned layer is the checked output (net.output_layer), not the last node drawn: here `c`,
    while `a` (after it in no order of the text) is a side branch."""
    a = check_text(
        "network T(x: [N, 4]) -> [N, 4] {\n    a: linear(8) from b\n    b: tanh from x\n"
        "    c: sigmoid from x\n}\n"
    )
    dot = dot_source(a, {})
    assert re.findall(r"^\s*(\S+) -> output$", dot, re.M) == ["L2"]  # c, the layer the network returns
    out = re.search(r"^\s*output \[.*$", dot, re.M).group()
    assert 'style="filled,bold"' in out and "[N, 4]" in out
    dot, alexnet = dot_of(ALEXNET)
    last = f"L{len(alexnet.network.layers) - 1}"
    assert re.findall(r"^\s*(\S+) -> output$", dot, re.M) == [last]
    assert "[N, 1000]" in re.search(r"^\s*output \[.*$", dot, re.M).group()
