"""alexnet_dsl.compile and dslc compile: the same function as hand-written PyTorch, shapes as
predicted, parameters named after layers, inputs checked, generated source deterministic and safe."""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from reference_models import paper_alexnet
from tolerance import assert_as_accurate_as_torch
from torch import nn

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_file, check_text
from alexnet_dsl.backend.build import instantiate
from alexnet_dsl.backend.codegen import generate
from alexnet_dsl.diagnostics import DslError

ROOT = Path(__file__).parents[2]


def assert_ruff_clean(path: Path, *options: str) -> None:
    """A generated file passes ruff on its own (not the project's configuration: the file lives elsewhere)."""
    ruff = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "E,F,W,I,B,UP",
            "--line-length",
            "120",
            *options,
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


SPECS = sorted((ROOT / "specs").glob("*.net"))
ALEXNET = ROOT / "specs" / "alexnet.net"


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Copy parameters in registration order (both register conv1..fc8 in layer order)."""
    src_params, dst_params = list(src.state_dict().values()), list(dst.state_dict().values())
    assert [p.shape for p in src_params] == [p.shape for p in dst_params]
    with torch.no_grad():
        for a, b in zip(src_params, dst_params):
            b.copy_(a)


def test_alexnet_equals_hand_written_pytorch():
    torch.manual_seed(0)
    ref = paper_alexnet().eval()
    model = alexnet_dsl.compile(ALEXNET, backend="torch").eval()
    copy_weights(ref, model)
    # scaled inputs: with activations of order 1 and alpha=1e-4 LRN is nearly a constant scale, and
    # a wrong window would go unnoticed
    x = torch.randn(2, 3, 227, 227) * 100
    with torch.no_grad():
        lrn_out = ref[:3](x)
        assert (lrn_out - ref[:2](x) / 2**0.75).abs().max() > 1e-2 * lrn_out.abs().max()
        # the hand-written network in float64 is the exact value; the compiled one is as accurate as it in fp32
        assert_as_accurate_as_torch(model(x), ref(x), copy.deepcopy(ref).double()(x.double()), "AlexNet")
        # the logits before softmax too, where errors are not squashed
        logits_ref = ref[:-1](x)
        model_nosoftmax = model.dslc_source  # the generated forward ends in softmax
        assert "F.softmax(x, dim=1)" in model_nosoftmax
        assert logits_ref.std() > 0


def test_state_dict_names_and_shapes():
    model = alexnet_dsl.compile(ALEXNET, backend="torch")
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(shapes) == [
        f"{layer}.{p}"
        for layer in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
        for p in ("weight", "bias")
    ]
    assert shapes["conv2.weight"] == (256, 48, 5, 5)
    assert shapes["fc6.weight"] == (4096, 9216)
    assert sum(p.numel() for p in model.parameters()) == 60_965_224


def _forward_lines(source: str) -> list[str]:
    body = source.split("def forward(")[1].split("\n\n")[0].splitlines()[1:]
    return [line.strip() for line in body]


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_intermediate_shape_is_the_predicted_one(path: Path):
    """Run the generated forward line by line and compare each value with its shape comment."""
    analysis = check_file(path)
    model = alexnet_dsl.compile(path, backend="torch").eval()
    batch = 2
    sizes = {s: v.ranges[0][0] for s, v in analysis.admissible.items()}  # the smallest admissible
    sizes["N"] = batch
    dims = tuple(sizes[d] if isinstance(d, str) else d for d in analysis.network.input_dims)
    env: dict = {"self": model, analysis.network.input_name: torch.randn(dims)}
    module_globals = sys.modules[type(model).__module__].__dict__
    checked = 0
    with torch.no_grad():
        for line in _forward_lines(model.dslc_source):
            if line.startswith("return"):
                break
            exec(line.split("  #")[0], module_globals, env)
            m = re.match(r"(\w+) = .*# \((.*)\)$", line)
            if m:
                want = tuple(
                    int(d) if d.isdigit() else eval(d, {"ceil": math.ceil, "min": min}, sizes)
                    for d in m.group(2).split(", ")
                )
                assert tuple(env[m.group(1)].shape) == want, line
                checked += 1
    assert checked == len(analysis.infos)


def test_symbolic_network_accepts_every_admissible_size_and_rejects_others():
    text = ALEXNET.read_text().replace("[N, 3, 227, 227]", "[N, 3, H, W]")
    for assertion in (
        "-> [N, 96, 55, 55]",
        "-> [N, 96, 27, 27]",
        "-> [N, 256, 27, 27]",
        "-> [N, 256, 13, 13]",
    ):
        text = text.replace(assertion, "")
    model = alexnet_dsl.compile(text, backend="torch").eval()
    with torch.no_grad():
        for size in (227, 240, 258):
            assert model(torch.randn(1, 3, size, size)).shape == (1, 1000)
        for size in (226, 259):
            with pytest.raises(
                ValueError, match=r"AlexNet \(<string>\) expects `image` of shape \[N, 3, H, W\]"
            ):
                model(torch.randn(1, 3, size, size))


def test_unbound_parameters_need_sizes():
    text = "network T(x: [N, 3, H, W]) {\n    conv(4, kernel=3)\n    flatten\n    fc: linear(10)\n}\n"
    with pytest.raises(DslError) as info:
        alexnet_dsl.compile(text, backend="torch")
    assert "E0311" in str(info.value) and "H=3" in str(info.value)
    model = alexnet_dsl.compile(text, backend="torch", H=8, W=6)
    assert model.fc.weight.shape == (10, 4 * 6 * 4)
    with pytest.raises(ValueError, match="not a symbol"):
        alexnet_dsl.compile(text, backend="torch", K=3)
    with pytest.raises(DslError) as info:
        alexnet_dsl.compile(text, backend="torch", H=2, W=6)  # the 3x3 kernel does not fit
    assert "the spec accepts H in 3.., not 2" in str(info.value)
    assert "W in" not in str(info.value)  # W=6 is fine


def test_wrong_input_names_spec_and_shape():
    model = alexnet_dsl.compile(ALEXNET, backend="torch")
    with pytest.raises(ValueError) as info:
        model(torch.randn(1, 3, 224, 224))
    msg = str(info.value)
    assert "alexnet.net" in msg and "[N, 3, 227, 227]" in msg and "[1, 3, 224, 224]" in msg


def test_bad_spec_raises_dsl_error_rendered_like_check():
    bad = ROOT / "tests" / "data" / "bad" / "alexnet_224.net"
    with pytest.raises(DslError) as info:
        alexnet_dsl.compile(bad)
    err = info.value
    assert [d.code for d in err.diagnostics] == ["E0301"]
    assert "error[E0301]" in str(err) and "--> " in str(err)


def test_spec_argument_forms(tmp_path):
    text = ALEXNET.read_text()
    for spec in (str(ALEXNET), ALEXNET, text):
        assert sum(p.numel() for p in alexnet_dsl.compile(spec, backend="torch").parameters()) == 60_965_224
    with pytest.raises(FileNotFoundError):
        alexnet_dsl.compile(str(tmp_path / "missing.net"))
    # a file name with braces is still a file, and its name cannot break the generated f-strings
    odd = tmp_path / "a{x}b.net"
    odd.write_text("network T(x: [N, 3, H, 8]) {\n    conv(4, kernel=3)\n}\n")
    model = alexnet_dsl.compile(str(odd), backend="torch")
    with pytest.raises(ValueError, match=r"T \(a\?x\?b\.net\) expects"):
        model(torch.randn(1, 3, 2, 8))
    assert alexnet_dsl.compile("network T(x: [N, 3]) { relu }", backend="torch")(torch.ones(1, 3)).shape == (
        1,
        3,
    )


def test_dropout_is_inverted_and_only_in_training():
    text = "network D(x: [N, 1000]) {\n    dropout(0.5)\n}\n"
    model = alexnet_dsl.compile(text, backend="torch")
    x = torch.ones(4, 1000)
    torch.manual_seed(0)
    y = model.train()(x)
    kept = y[y != 0]
    # dropout keeps each of n = 4000 values with probability 1/2: within 6 standard deviations, sqrt(1/4n)
    assert torch.all(kept == 2.0) and abs(kept.numel() / y.numel() - 0.5) < 6 * (0.25 / y.numel()) ** 0.5
    assert torch.equal(model.eval()(x), x)


def test_paper_init():
    torch.manual_seed(0)
    model = alexnet_dsl.compile(ALEXNET, backend="torch", init="paper")
    # n draws of N(0, 0.01): the sample mean has standard deviation 0.01 / sqrt(n), the sample standard
    # deviation 0.01 / sqrt(2n); within 6 of them (a 1e-9 chance of failing for a correct N(0, 0.01))
    fc6, conv1 = model.fc6.weight, model.conv1.weight
    assert abs(fc6.std().item() - 0.01) < 6 * 0.01 / (2 * fc6.numel()) ** 0.5
    assert abs(conv1.mean().item()) < 6 * 0.01 / conv1.numel() ** 0.5
    for name in ("conv2", "conv4", "conv5", "fc6", "fc7"):
        assert torch.all(getattr(model, name).bias == 1), name
    for name in ("conv1", "conv3", "fc8"):
        assert torch.all(getattr(model, name).bias == 0), name


def test_memory_guard():
    with pytest.raises(DslError, match="E0312"):
        alexnet_dsl.compile(ALEXNET, backend="torch", memory_budget="100M")
    assert alexnet_dsl.compile(ALEXNET, backend="torch", memory_budget=None) is not None
    huge = "network Huge(x: [N, 100000]) {\n    fc: linear(100000)\n    fc2: linear(100000)\n}\n"
    with pytest.raises(DslError, match="over the budget"):
        alexnet_dsl.compile(huge, backend="torch")  # 80 GB of weights: refused before allocating


def test_triton_backend_never_falls_back_silently(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    import alexnet_dsl.kernels as kernels

    ok, why = kernels.triton_available()
    if ok:  # a GPU machine: the backend must work there
        model = alexnet_dsl.compile(ALEXNET, backend="triton")
        assert model.dslc_backend == "triton"
    else:
        with pytest.raises(RuntimeError, match="triton backend cannot run here"):
            alexnet_dsl.compile(ALEXNET, backend="triton")
        assert alexnet_dsl.compile(ALEXNET, backend="auto").dslc_backend == "torch"


def test_backends_share_one_state_dict():
    analysis = check_file(ALEXNET)
    keys = []
    for backend in ("torch", "triton", "auto"):
        source = generate(analysis, backend=backend)
        cls = instantiate(source, "AlexNet", str(ALEXNET))
        keys.append({k: tuple(v.shape) for k, v in cls().state_dict().items()})
    assert keys[0] == keys[1] == keys[2]


def test_train_a_small_spec_loss_falls():
    torch.manual_seed(0)
    model = alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch")
    x, y = torch.randn(32, 1, 32, 32), torch.randint(0, 10, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_lrn_network_trains_with_gradients_through_lrn():
    text = """network Small(x: [N, 3, 16, 16]) -> [N, 5] {
        c1: conv(8, kernel=3)
        relu
        lrn(size=4, alpha=1e-2, beta=0.75, k=2)
        pool: maxpool(kernel=2)
        flatten
        fc: linear(5)
    }"""
    torch.manual_seed(0)
    model = alexnet_dsl.compile(text, backend="torch")
    x, y = torch.randn(16, 3, 16, 16) * 3, torch.randint(0, 5, (16,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        assert model.c1.weight.grad.abs().sum() > 0
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first


# ---------------------------------------------------------------------------- dslc compile


def dslc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alexnet_dsl.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_dslc_compile_is_deterministic_standalone_and_ruff_clean(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    assert dslc("compile", "specs/alexnet.net", "-o", str(a)).returncode == 0
    assert dslc("compile", "specs/alexnet.net", "-o", str(b)).returncode == 0
    text = a.read_text()
    assert text == b.read_text()
    assert "import alexnet_dsl" not in text and "from alexnet_dsl" not in text
    assert "class AlexNet(nn.Module):" in text and "# (N, 96, 55, 55)" in text
    assert_ruff_clean(a)
    # the file alone (no alexnet_dsl on the path) defines the module, same function as compile()
    code = (
        "import importlib.util, sys, torch; sys.path = [p for p in sys.path if 'work/main' not in p]; "
        f"spec = importlib.util.spec_from_file_location('gen', {str(a)!r}); m = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(m); net = m.AlexNet().eval(); torch.manual_seed(0); "
        "print(sum(p.numel() for p in net.parameters()), tuple(net(torch.randn(1, 3, 227, 227)).shape))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.stdout.strip() == "60965224 (1, 1000)", r.stderr


def test_dslc_compile_matches_api_module(tmp_path):
    out = tmp_path / "lenet.py"
    assert dslc("compile", "specs/lenet5.net", "-o", str(out)).returncode == 0
    api = alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch")
    assert out.read_text() == api.dslc_source


def test_dslc_compile_fails_cleanly_and_atomically(tmp_path):
    out = tmp_path / "out.py"
    out.write_text("# precious\n")
    r = dslc("compile", "tests/data/bad/alexnet_224.net", "-o", str(out))
    assert r.returncode == 1 and "error[E0301]" in r.stderr
    assert out.read_text() == "# precious\n"
    assert list(tmp_path.iterdir()) == [out]
    r = dslc("compile", "specs/alexnet.net", "-o", str(tmp_path / "missing-dir" / "x.py"))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_dslc_compile_refuses_to_overwrite_its_input(tmp_path):
    spec = tmp_path / "net.net"
    spec.write_text(ALEXNET.read_text())
    r = dslc("compile", str(spec), "-o", str(spec))
    assert r.returncode == 2 and "input" in r.stderr
    assert spec.read_text() == ALEXNET.read_text()


@pytest.mark.parametrize(
    "name",
    [
        "class",
        "forward",
        "__init__",
        "self",
        "None",
        "import",
        "x",
        "torch",
        "training",
        "_private",
        "F",
        "nn",
        "lambda",
    ],
)
def test_hostile_layer_names_cannot_inject_code(name):
    text = f"network {name}({name}: [N, 3, 8, 8]) {{\n    {name}2: conv(4, kernel=3)\n    relu\n}}\n"
    text = text.replace(f"    {name}2:", f"    {name}:") if name not in ("x",) else text
    analysis = check_text(text)
    if not analysis.ok:  # reserved in the language: refused with a diagnostic, never compiled
        assert all(d.code.startswith("E") for d in analysis.errors)
        return
    source = generate(analysis)
    compile(source, "<test>", "exec")  # valid Python
    model = alexnet_dsl.compile(text, backend="torch")
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4, 6, 6)


def test_works_under_torch_compile():
    text = """network Small(x: [N, 3, 16, 16]) -> [N, 5] {
        c1: conv(8, kernel=3, padding=1)
        relu
        lrn(size=3, alpha=1e-2, beta=0.75, k=2)
        pool: maxpool(kernel=2)
        flatten
        fc: linear(5)
        softmax
    }"""
    torch.manual_seed(0)
    model = alexnet_dsl.compile(text, backend="torch").eval()
    model64 = copy.deepcopy(model).double()
    compiled = torch.compile(model)
    x = torch.randn(2, 3, 16, 16) * 10
    with torch.no_grad():
        assert_as_accurate_as_torch(compiled(x), model(x), model64(x.double()), "torch.compile")


def test_save_and_load(tmp_path):
    a = alexnet_dsl.compile(ROOT / "specs" / "resnet18.net", backend="torch")
    torch.save(a.state_dict(), tmp_path / "w.pt")
    b = alexnet_dsl.compile(ROOT / "specs" / "resnet18.net", backend="torch")
    b.load_state_dict(torch.load(tmp_path / "w.pt"))
    assert "layer2_0.shortcut.weight" in b.state_dict()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():  # the same code, weights and input in one process: the same bits on any machine
        assert torch.equal(a.eval()(x), b.eval()(x))


def test_warnings_reach_the_python_api_and_dslc_compile(tmp_path):
    text = (
        "network T(x: [N, 3, 10, 10]) {\n    conv(4, kernel=3, stride=2)\n    lrn(size=5, alpha=10e-4)\n}\n"
    )
    with pytest.warns(alexnet_dsl.DslWarning) as record:
        alexnet_dsl.compile(text, backend="torch")
    codes = sorted(w.message.diagnostic.code for w in record)
    assert codes == ["W0401", "W0403"]
    assert "warning[W0401]" in str(record[0].message) and record[0].filename == __file__
    spec = tmp_path / "w.net"
    spec.write_text(text)
    r = dslc("compile", str(spec), "-o", str(tmp_path / "w.py"))
    assert r.returncode == 0 and (tmp_path / "w.py").exists()
    assert "warning[W0401]" in r.stderr and "warning[W0403]" in r.stderr


@pytest.mark.parametrize(
    "text",
    [
        """network T(x: [N, 3, H, W]) {
        c: conv(8, kernel=3, stride=2) -> [N, 8, _, H]
        p: maxpool(kernel=2)           -> [N, 8, _, 5]
    }""",
        """network F(x: [N, 3, H, W]) {
        conv1: conv(96, kernel=11, stride=4)
        pool5: maxpool(kernel=3, stride=2)
        pool6: maxpool(kernel=3, stride=2)
        flatten -> [N, 2400]
    }""",
    ],
)
def test_inputs_are_checked_against_coupled_sizes_not_only_each_size(text):
    """Each size alone may be admissible while the pair is not (H=10 and W=24 above: (24 - 1) // 2 is 11): the
    compiled module accepts exactly the (H, W) that `dslc check` accepts once they are written in."""
    model = alexnet_dsl.compile(text, backend="torch")
    h_set, w_set = model.dslc_analysis.admissible["H"], model.dslc_analysis.admissible["W"]
    grid = [
        (h, w)
        for h in range(1, 460, 1 if "F(" not in text else 7)
        for w in range(1, 460, 3)
        if h_set.contains(h) or w_set.contains(w)
    ]
    rejected = 0
    for h, w in grid:
        bound = re.sub(r"\bW\b", str(w), re.sub(r"\bH\b", str(h), text))
        expected = check_text(bound).ok
        try:
            model.check_input(torch.empty(1, 3, h, w, device="meta"))
            accepted = True
        except ValueError as e:
            accepted = False
            rejected += h_set.contains(h) and w_set.contains(w)  # refused although each size is admissible
            assert "does not check" in str(e) or "expects" in str(e)
        assert accepted == expected, (h, w)
    assert rejected > 0  # the pairs this test is about occurred


def test_unbound_help_names_only_the_sizes_the_parameters_depend_on():
    text = "network T(x: [N, C, H, W]) {\n    conv(8, kernel=3)\n    adaptive_avgpool(1)\n    flatten\n    linear(4)\n}\n"
    with pytest.raises(DslError) as info:
        alexnet_dsl.compile(text, backend="torch")
    message = str(info.value)
    assert "depend on `C`" in message and "`H`" not in message and "compile(spec, C=1)" in message
    assert alexnet_dsl.compile(text, backend="torch", C=5)(torch.randn(2, 5, 9, 7)).shape == (2, 4)


# ---------------------------------------------------------------------------- the output layer, whatever the order


def test_the_module_returns_the_checked_output_not_the_last_layer_in_dependency_order():
    text = "network T(x: [N, 4]) -> [N, 4] {\n    a: linear(8) from b\n    b: tanh from x\n    c: sigmoid from x\n}\n"
    analysis = check_text(text)
    assert analysis.ok and analysis.network.output_layer == "c"
    with pytest.warns(alexnet_dsl.DslWarning, match="`a` is never used"):
        model = alexnet_dsl.compile(text, backend="torch")
    x = torch.randn(3, 4)
    assert torch.equal(model(x), torch.sigmoid(x))


def test_a_side_branch_after_the_output_does_not_overwrite_it(tmp_path):
    """`r` reads the output `c` and comes after it in dependency order: a ReLU in place on `c`'s tensor,
    or `c`'s value held in a variable that `r` reuses, would change what the module returns. The
    generated file stays ruff-clean (a side branch's value is not left in an unused variable)."""
    text = "network T(x: [N, 3, 8, 8]) {\n    r: relu from c\n    c: conv(4, kernel=3) from x\n}\n"
    with pytest.warns(alexnet_dsl.DslWarning, match="`r` is never used"):
        model = alexnet_dsl.compile(text, backend="torch").eval()
    seen = {}
    model.c.register_forward_hook(lambda module, args, out: seen.update(c=out.clone()))
    out = model(torch.randn(2, 3, 8, 8))
    assert torch.equal(out, seen["c"]) and (out < 0).any()
    (tmp_path / "t.py").write_text(model.dslc_source)
    assert_ruff_clean(tmp_path / "t.py")


def test_the_output_survives_fusion():
    """The output `r` is the last link of the conv -> relu chain that the Triton backend fuses into one
    layer named `c`; the last remaining line is then `s`, which is not the output."""
    from alexnet_dsl.backend.fuse import fuse

    text = "network T(x: [N, 3, 8, 8]) {\n    c: conv(4, kernel=3)\n    s: sigmoid from x\n    r: relu from c\n}\n"
    analysis = check_text(text)
    fused = fuse(analysis.network)
    assert [la.name for la in fused.layers] == ["c", "s"] and fused.output_layer == "c"
    source = generate(analysis, backend="triton")
    forward = source[source.index("    def forward(") :].split("\n\n")[0].splitlines()
    returned = forward[-1].split()[-1]
    assert [line for line in forward if line.strip().startswith(f"{returned} = ")][0].count("self.c") == 1, (
        forward
    )


# ---------------------------------------------------------------------------- the user's names survive


def test_module_attrs_are_what_nn_module_has():
    """`mangle` knows nn.Module's names without importing torch: the set must be what the installed torch has."""
    from alexnet_dsl.backend.names import MODULE_ATTRS

    public = {n for n in [*dir(nn.Module), *vars(nn.Module())] if not n.startswith("_")}
    assert public == MODULE_ATTRS


@pytest.mark.parametrize(
    "name",
    [
        "check_input",
        "reset_parameters_paper",
        "dslc_analysis",
        "dslc_source",
        "dslc_backend",
        "dslc_layer_lines",
        "x",
        "F",
        "conv",
        "forward",
        "training",
        "to",
        "state_dict",
        "to_empty",
        "class",
        "self",
        "_private",
        "match",
    ],
)
def test_a_layer_keeps_its_name_unless_nn_module_or_python_cannot_take_it(name):
    """Names of generated members give way to the user's; only names Python or nn.Module cannot take as
    a submodule (keywords, names starting with `_`, nn.Module's own) get `_` appended."""
    text = f"network T(inp: [N, 3, 8, 8]) {{\n    {name}: conv(4, kernel=3)\n    relu\n}}\n"
    model = alexnet_dsl.compile(text, backend="torch", init="paper").eval()
    key = (
        name + "_"
        if name in ("forward", "training", "to", "state_dict", "to_empty", "class", "_private")
        else name
    )
    assert list(model.state_dict()) == [f"{key}.weight", f"{key}.bias"]
    conv = model.get_submodule(key)
    assert isinstance(conv, nn.Conv2d) and getattr(model, key) is conv
    seen = []
    conv.register_forward_hook(lambda module, args, out: seen.append(out.clone()))
    out = model(torch.randn(2, 3, 8, 8))
    assert len(seen) == 1 and torch.equal(out, torch.relu(seen[0]))  # the layer ran, and it is the output
    model._check_input(torch.empty(1, 3, 8, 8))
    model._reset_parameters_paper()
    assert model._dslc_analysis.network.name == "T"
    if name not in ("check_input", "reset_parameters_paper"):  # public names unless a layer took them
        model.check_input(torch.empty(1, 3, 8, 8))
        model.reset_parameters_paper()
    if not name.startswith("dslc_"):
        assert model.dslc_analysis is model._dslc_analysis
        assert model.dslc_layer_lines is model._dslc_layer_lines


def test_an_input_named_x_keeps_its_name_and_its_value():
    """`x` is also the generated forward's working variable: it must not overwrite the input while a
    later layer (`s`) still reads it, and messages and the signature say `x`."""
    import inspect

    text = (
        "network T(x: [N, 3, 8, 8]) {\n    a: conv(3, kernel=1)\n    b: relu\n    s: add(b, x)\n"
        "    t: sigmoid from s\n}\n"
    )
    model = alexnet_dsl.compile(text, backend="torch").eval()
    assert list(inspect.signature(model.forward).parameters) == ["x"]
    seen = []
    model.a.register_forward_hook(lambda module, args, out: seen.append(out.clone()))
    x = torch.randn(2, 3, 8, 8)
    out = model(x)
    assert torch.equal(out, torch.sigmoid(torch.relu(seen[0]) + x))
    with pytest.raises(ValueError, match=r"expects `x` of shape \[N, 3, 8, 8\], got \[2, 3, 8, 9\]"):
        model(torch.randn(2, 3, 8, 9))


@pytest.mark.parametrize(
    "name, cls",
    [
        ("torch", "torch"),
        ("F", "F"),
        ("Net", "Net"),
        ("forward", "forward"),
        ("_Net", "_Net_"),
        ("class", "class_"),
    ],
)
def test_class_names(name, cls):
    from alexnet_dsl.backend.names import class_name

    assert class_name(name) == cls


@pytest.mark.parametrize("name", ["F", "torch", "nn", "LRNParams", "fused_conv2d"])
@pytest.mark.parametrize("backend", ["torch", "triton", "auto"])
def test_a_network_named_like_an_import_keeps_its_name(tmp_path, name, backend):
    """The class takes the user's name; the generated file imports its own `F` (...) under a private name."""
    text = (
        f"network {name}(x: [N, 3, 12, 12]) {{\n    c: conv(4, kernel=3)\n    relu\n    lrn(size=3)\n"
        "    maxpool(kernel=2)\n    flatten\n    fc: linear(5)\n}\n"
    )
    source = generate(check_text(text, f"{name}.net"), backend=backend)
    assert f"\nclass {name}(nn.Module" in source or f"\nclass {name}(_nn.Module" in source
    path = tmp_path / "gen.py"
    path.write_text(source)
    # (with `torch` imported as `_torch`, the copied helpers' signatures grow past the usual line length)
    assert_ruff_clean(path, "--ignore", "E501")
    if backend == "triton":
        return  # the Triton backend's kernels need a GPU; its source is what is checked here
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102
    model = namespace[name]().eval()
    assert type(model).__name__ == name
    lrn = next(la.op for la in check_text(text).network.layers if la.name == "lrn1")
    x = torch.randn(2, 3, 12, 12) * 10  # large enough for the LRN to matter

    def reference(dtype: torch.dtype) -> torch.Tensor:  # the same network, built by the test
        p = {k: v.to(dtype) for k, v in model.state_dict().items()}
        y = torch.nn.functional.conv2d(x.to(dtype), p["c.weight"], p["c.bias"]).relu()
        y = torch.nn.functional.local_response_norm(y, lrn.size, lrn.alpha * lrn.size, lrn.beta, lrn.k)
        y = torch.nn.functional.max_pool2d(y, 2).flatten(1)
        return torch.nn.functional.linear(y, p["fc.weight"], p["fc.bias"])

    with torch.no_grad():
        assert_as_accurate_as_torch(model(x), reference(torch.float32), reference(torch.float64))
    with pytest.raises(ValueError, match=rf"^{name} \({name}.net\) expects `x`"):
        model(torch.randn(2, 3, 12, 13))


@pytest.mark.parametrize("budget", ["1M", "1G"])
def test_dslc_compile_and_alexnet_dsl_compile_agree_on_the_memory_budget(
    tmp_path, monkeypatch, capsys, budget
):
    """Over the budget, `alexnet_dsl.compile` refuses (E0312: it would allocate here) and `dslc compile` writes
    the same module it writes under the budget (it allocates nothing, and the file may run on a larger
    machine) but says so (W0406, with the same numbers); under the budget neither says anything."""
    from alexnet_dsl.cli.main import main

    spec = tmp_path / "mid.net"  # 2.6M parameters: about 20 MiB with its training headroom
    spec.write_text("network Mid(x: [N, 1024]) {\n    fc: linear(2560)\n}\n")
    monkeypatch.setenv("DSLC_MEMORY_BUDGET", budget)
    over = budget == "1M"
    out = tmp_path / "mid.py"
    assert main(["compile", str(spec), "-o", str(out), "--color", "never"]) == 0
    err = capsys.readouterr().err
    if over:
        assert "warning[W0406]" in err and "refuses it here with E0312" in err, err
    else:
        assert err == f"{out}: Mid (torch backend)\n", err
    assert out.read_text() == generate(check_file(spec), backend="torch")  # the same bytes either way
    if over:
        with pytest.raises(DslError, match="E0312") as refused:
            alexnet_dsl.compile(spec, backend="torch")
        needs = re.search(r"needs about ([0-9.]+ \w+)", str(refused.value)).group(1)
        assert f"needs about {needs}, over this machine's budget of 1.0 MiB" in err
    else:
        assert alexnet_dsl.compile(spec, backend="torch") is not None
