"""dslc export --onnx: the exported model computes what the compiled module computes (onnxruntime, two
batch sizes, dynamic spatial sizes), LRN is one ONNX `LRN` node with ONNX's alpha for odd sizes and
plain ops for even ones, onnx.checker passes, and ONNX's shapes are compared with ours."""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerance import SAME_ACCURACY, U32, assert_as_accurate_as_torch, gamma, torch_fp32_error

import alexnet_dsl
from alexnet_dsl.cli.main import main
from alexnet_dsl.interop import onnx_export
from alexnet_dsl.interop.onnx_export import ExportError, export_onnx

ROOT = Path(__file__).parents[2]
ALEXNET = ROOT / "specs" / "alexnet.net"

# the last layer's softmax would squash the differences a wrong LRN makes: compare logits
ALEXNET_LOGITS = ALEXNET.read_text().replace("    softmax\n", "")

BRANCHY = """
network Branchy(image: [N, 3, H, W]) -> [N, 10] {
    conv1: conv(16, kernel=5, stride=2)
    bn1: batchnorm
    relu
    lrn(size=3, alpha=1e-4, beta=0.75, k=2)
    pool1: maxpool(kernel=3, stride=2, padding=1)
    a: conv(16, kernel=3, padding=1) from pool1
    b: conv(8, kernel=1) from pool1
    c: avgpool(kernel=3, stride=1, padding=1) from pool1
    cat: concat(a, b, c)
    squeeze: conv(16, kernel=1)
    res: add(squeeze, a)
    relu
    gap: adaptive_avgpool(1)
    flatten
    fc: linear(10)
}
"""

EVEN_LRN = """
network EvenLRN(image: [N, 8, 12, 12]) -> [N, 8, 12, 12] {
    conv1: conv(8, kernel=3, padding=1)
    relu
    lrn(size=4, alpha=1e-4, beta=0.75, k=2)
    conv2: conv(8, kernel=3, padding=1)
    lrn(size=3, alpha=2e-4, beta=0.5, k=1)
}
"""


def run_onnx(path: Path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: x.numpy()})[0]


def reference(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def assert_onnxruntime_as_accurate(got: np.ndarray, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """onnxruntime's output as close to the float64 value as the compiled module's fp32 output is (it folds
    batchnorm into convs and runs other kernels: another order of the same operations); returns the exact value."""
    exact = reference(copy.deepcopy(model).double(), x.double())
    assert_as_accurate_as_torch(torch.from_numpy(got), reference(model, x), exact, "onnxruntime")
    return exact


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory):
    """AlexNet's logits compiled with seeded weights, saved, and exported with those weights."""
    tmp = tmp_path_factory.mktemp("alexnet")
    torch.manual_seed(0)
    model = alexnet_dsl.compile(ALEXNET_LOGITS, backend="torch").eval()
    weights = tmp / "alexnet.pt"
    torch.save(model.state_dict(), weights)
    path = tmp / "alexnet.onnx"
    result = export_onnx(ALEXNET_LOGITS, path, weights=weights)
    return model, path, result


def test_alexnet_in_onnxruntime_matches_the_compiled_module_at_two_batch_sizes(alexnet):
    model, path, _ = alexnet
    torch.manual_seed(1)
    for batch in (2, 5):
        # scaled inputs: at activations of order 1 LRN is nearly a constant factor, and a wrong alpha
        # or window would go unnoticed
        x = torch.randn(batch, 3, 227, 227) * 100
        got = run_onnx(path, x)
        want = reference(model, x)
        assert got.shape == (batch, 1000)
        exact = assert_onnxruntime_as_accurate(got, model, x)
    # and the comparison can fail: the same weights without LRN give other logits
    module = sys.modules[type(model).__module__]
    lrn = module._lrn
    module._lrn = lambda x, *args, **kwargs: x
    try:
        without_lrn = reference(model, x)
    finally:
        module._lrn = lrn
    assert (without_lrn - want).abs().max() > 100 * SAME_ACCURACY * torch_fp32_error(want, exact)


def test_alexnet_lrn_is_one_onnx_node_with_onnx_alpha(alexnet):
    _, path, result = alexnet
    graph = onnx.load(str(path)).graph
    lrns = [n for n in graph.node if n.op_type == "LRN"]
    assert len(lrns) == 2 and result.lrn_nodes == 2
    for node in lrns:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["size"] == 5
        # the paper's 1e-4 times the size, as a float32 attribute: one rounding (u32) of the float64 product
        assert attrs["alpha"] == pytest.approx(5e-4, rel=2 * U32)
        assert attrs["beta"] == 0.75 and attrs["bias"] == 2.0  # exact in float32


def test_alexnet_checks_with_a_dynamic_batch_and_embedded_weights(alexnet):
    _, path, result = alexnet
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path), load_external_data=False)
    (inp,) = model.graph.input
    assert inp.name == "image"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 3, 227, 227]
    assert [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [
        "N",
        1000,
    ]
    assert result.dynamic == ("N",) and not result.external_data
    assert not list(path.parent.glob("*.data"))
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in model.graph.initializer)
    assert sum(len(t.raw_data) for t in model.graph.initializer) > 200e6  # 60,965,224 float32 weights
    assert model.opset_import[0].version == 20


def test_alexnet_shapes_agree_with_onnx_on_every_layer(alexnet):
    _, _, result = alexnet
    assert result.disagreements == []
    checked = {c.layer: c for c in result.checks}
    for name in ("conv1", "lrn1", "pool1", "conv5", "pool5", "flatten1", "fc6", "fc8"):
        assert checked[name].agree is True, checked[name].describe()
    assert [str(d) for d in checked["pool5"].theirs] == ["N", "256", "6", "6"]
    assert result.absent == ["dropout1", "dropout2"]  # identities in eval mode: no node of their own


def test_branchy_symbolic_spec_keeps_h_and_w_dynamic(tmp_path):
    torch.manual_seed(0)
    model = alexnet_dsl.compile(BRANCHY, backend="torch").eval()
    with torch.no_grad():  # running statistics that matter
        model.bn1.running_mean.uniform_(-1, 1)
        model.bn1.running_var.uniform_(0.5, 2)
    path = tmp_path / "branchy.onnx"
    result = export_onnx(BRANCHY, path, weights=model.state_dict())
    assert result.dynamic == ("N", "H", "W")
    assert result.disagreements == []
    assert {c.layer for c in result.checks if c.agree is True} >= {
        "bn1",
        "pool1",
        "a",
        "cat",
        "res",
        "gap",
        "fc",
    }
    assert "conv1" in result.absent  # folded into bn1's node by the exporter's optimiser
    inp = onnx.load(str(path)).graph.input[0]
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["N", 3, "H", "W"]
    for shape in ((2, 3, 40, 40), (3, 3, 57, 33)):
        x = torch.randn(*shape) * 100
        assert_onnxruntime_as_accurate(run_onnx(path, x), model, x)


def test_sizes_tied_to_each_other_are_compared_at_sizes_the_spec_accepts(tmp_path):
    """W is tied to H by an assertion: the shape comparison samples only (H, W) pairs that satisfy the tie."""
    text = """network Tied(x: [N, 3, H, W]) {
        c: conv(8, kernel=3, stride=2) -> [N, 8, _, H]
        p: maxpool(kernel=2)           -> [N, 8, _, 5]
    }"""
    torch.manual_seed(0)
    model = alexnet_dsl.compile(text, backend="torch").eval()
    path = tmp_path / "tied.onnx"
    result = export_onnx(text, path, weights=model.state_dict())
    assert result.disagreements == [] and {c.layer for c in result.checks if c.agree is True} == {"c", "p"}
    x = torch.randn(2, 3, 11, 23)
    assert_onnxruntime_as_accurate(run_onnx(path, x), model, x)


def test_even_lrn_is_written_in_plain_ops_and_runs(tmp_path):
    torch.manual_seed(0)
    model = alexnet_dsl.compile(EVEN_LRN, backend="torch").eval()
    path = tmp_path / "even.onnx"
    result = export_onnx(EVEN_LRN, path, weights=model.state_dict())
    graph = onnx.load(str(path)).graph
    (lrn,) = [n for n in graph.node if n.op_type == "LRN"]  # only the odd one
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in lrn.attribute}
    assert attrs["size"] == 3 and attrs["alpha"] == pytest.approx(6e-4, rel=2 * U32)  # float32, as above
    assert result.disagreements == [] and result.lrn_nodes == 1
    x = torch.randn(3, 8, 12, 12) * 100
    assert_onnxruntime_as_accurate(run_onnx(path, x), model, x)


MODERN_OPS = [
    "relu6",
    "leaky_relu(0.2)",
    "elu(alpha=0.5)",
    "gelu",
    "silu",
    "mish",
    "hardswish",
    "hardsigmoid",
    "global_avgpool",
    "global_maxpool(keepdims=true)",
    "channel_shuffle(2)",
    "layernorm(eps=1e-6)",
    "gelu(approximate=tanh)",
    "scale(0.5)",
    "stochastic_depth(0.3)",
    "chunk(2, 1)",
    "upsample(2)",
    "upsample((2, 3), mode=bilinear)",
    "upsample(2, mode=bilinear, align_corners=true)",
    "conv_transpose(3, kernel=3, stride=2, padding=1, output_padding=1)",
    "se: global_avgpool(keepdims=true)\n    mul(c, se)",
]


@pytest.mark.parametrize("op", MODERN_OPS)
def test_each_modern_op_exports_and_runs_in_onnxruntime(op, tmp_path):
    """A conv spreads the values past each activation's thresholds (relu6's 6, hardswish's +-3)."""
    spec = f"network Act(image: [N, 3, 9, 9]) {{\n    c: conv(4, kernel=3)\n    {op}\n}}\n"
    torch.manual_seed(0)
    model = alexnet_dsl.compile(spec, backend="torch").eval()
    path = tmp_path / "act.onnx"
    result = export_onnx(spec, path, weights=model.state_dict())
    assert result.disagreements == []
    x = torch.randn(2, 3, 9, 9) * 10
    assert_onnxruntime_as_accurate(run_onnx(path, x), model, x)


def test_a_disagreement_is_a_warning_line_and_exit_1(tmp_path, monkeypatch, capsys):
    original = onnx_export.compare_shapes

    def wrong_conv1(analysis, proto, values):
        # what a bug in our shape rules would look like: conv1 one pixel short
        infos = [
            dataclasses.replace(i, shape=(*i.shape[:2], 54, 54)) if i.layer.name == "conv1" else i
            for i in analysis.infos
        ]
        return original(dataclasses.replace(analysis, infos=infos), proto, values)

    monkeypatch.setattr(onnx_export, "compare_shapes", wrong_conv1)
    spec = tmp_path / "lenet.net"
    spec.write_text((ROOT / "specs" / "lenet5.net").read_text().replace("c1: conv", "conv1: conv"))
    assert main(["export", str(spec), "--onnx", str(tmp_path / "lenet.onnx")]) == 1
    err = capsys.readouterr().err
    warnings = [ln for ln in err.splitlines() if ln.startswith("dslc: warning:")]
    assert len(warnings) == 1
    assert "`conv1`: dslc infers [N, 6, 54, 54], ONNX infers [N, 6, 28, 28]" in warnings[0]
    assert "1 disagree" in err


def test_cli_export_writes_a_checked_model(tmp_path, capsys):
    out = tmp_path / "lenet.onnx"
    assert main(["export", str(ROOT / "specs" / "lenet5.net"), "--onnx", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out}: LeNet5, opset 20" in err and "dynamic: N" in err
    assert "agree with ONNX" in err and "disagree" not in err
    onnx.checker.check_model(str(out), full_check=True)
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_export_binds_sizes(tmp_path, capsys):
    spec = tmp_path / "branchy.net"
    spec.write_text(BRANCHY)
    out = tmp_path / "branchy.onnx"
    assert main(["export", str(spec), "--onnx", str(out), "--sizes", "H=64,W=48"]) == 0
    assert "dynamic: N" in capsys.readouterr().err
    inp = onnx.load(str(out)).graph.input[0]
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["N", 3, 64, 48]


@pytest.mark.parametrize(
    "case",
    [
        "bad_spec",
        "unbound",
        "bad_sizes",
        "missing_weights",
        "wrong_weights",
        "garbage_weights",
        "no_dir",
        "over_input",
        "opset",
    ],
)
def test_cli_export_errors_are_one_line_without_traceback(case, tmp_path, capsys):
    spec = ALEXNET
    extra: list[str] = []
    out = tmp_path / "out.onnx"
    expected = 2
    if case == "bad_spec":
        spec, expected = ROOT / "tests" / "data" / "bad" / "alexnet_224.net", 1
    elif case == "unbound":  # fc's weights depend on H and W
        spec, expected = tmp_path / "hw.net", 1
        spec.write_text(
            "network Net(image: [N, 3, H, W]) {\n  conv(8, kernel=3)\n  flatten\n  fc: linear(10)\n}\n"
        )
    elif case == "bad_sizes":
        extra = ["--sizes", "H=x"]
    elif case == "missing_weights":
        extra = ["--weights", str(tmp_path / "missing.pt")]
    elif case == "wrong_weights":
        weights = tmp_path / "lenet.pt"
        torch.save(alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch").state_dict(), weights)
        extra, expected = ["--weights", str(weights)], 1
    elif case == "garbage_weights":
        weights = tmp_path / "garbage.pt"
        weights.write_bytes(b"not a pickle at all")
        extra, expected = ["--weights", str(weights)], 1
    elif case == "no_dir":
        out = tmp_path / "missing" / "out.onnx"
    elif case == "over_input":
        out = spec
    elif case == "opset":
        extra = ["--opset", "11"]
    assert main(["export", str(spec), "--onnx", str(out), *extra]) == expected
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()
    if case == "wrong_weights":
        assert err.count("\n") == 1 and "do not fit `AlexNet`" in err and "missing `conv1.weight`" in err
    if case == "garbage_weights":
        assert err.count("\n") == 1 and "is not a state_dict saved with torch.save" in err
    if case == "unbound":
        assert "error[E0311]" in err
    if case not in ("over_input",):
        assert not out.exists()
    assert ALEXNET.read_text().startswith("# AlexNet")


def test_weights_that_do_not_fit_raise_export_error(tmp_path):
    model = alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch")
    state = model.state_dict()
    state["f5.weight"] = torch.zeros(3, 3)
    with pytest.raises(ExportError, match=r"`f5.weight` is \[3, 3\], the spec needs \[120, 400\]"):
        export_onnx(ROOT / "specs" / "lenet5.net", tmp_path / "x.onnx", weights=state)
    with pytest.raises(ExportError, match="not a state_dict"):
        export_onnx(ROOT / "specs" / "lenet5.net", tmp_path / "x.onnx", weights=[1, 2])
    # a state_dict saved from DistributedDataParallel loads as well
    ddp = {f"module.{k}": v for k, v in state.items() if k != "f5.weight"}
    ddp["module.f5.weight"] = model.f5.weight.detach()
    export_onnx(ROOT / "specs" / "lenet5.net", tmp_path / "x.onnx", weights=ddp)


def test_a_model_over_the_protobuf_limit_keeps_its_weights_beside_it(tmp_path, monkeypatch):
    """Over 2 GiB the weights go to `NAME.data` and the model appears through one atomic rename: shown on
    LeNet-5 with the limit lowered to nothing."""
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 0)
    torch.manual_seed(0)
    model = alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch").eval()
    path = tmp_path / "lenet.onnx"
    result = export_onnx(ROOT / "specs" / "lenet5.net", path, weights=model.state_dict())
    assert result.external_data and result.disagreements == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lenet.onnx",
        "lenet.onnx.data",
    ]  # no temporary file
    assert path.stat().st_mode & 0o777 == 0o644
    x = torch.randn(2, 1, 32, 32)
    assert_onnxruntime_as_accurate(run_onnx(path, x), model, x)


def test_fixed_batch_and_a_mangled_input_name(tmp_path):
    spec = (
        "network Fixed(class: [1, 3, 16, 16]) {\n  conv1: conv(4, kernel=3)\n  relu\n"
        "  lrn(size=5, alpha=1e-4, beta=0.75, k=2)\n  flatten\n  fc: linear(3)\n}\n"
    )
    result = export_onnx(spec, tmp_path / "fixed.onnx")
    assert (
        result.dynamic == () and result.input_name == "class"
    )  # the spec's name, though forward takes `class_`
    assert "all sizes fixed" in result.summary() and result.disagreements == []
    inp = onnx.load(str(tmp_path / "fixed.onnx")).graph.input[0]
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 16, 16]


def test_the_exported_output_is_the_checked_output_layer_and_the_input_keeps_its_name(tmp_path):
    """`c` is the output (the last line) though `a` comes last in dependency order; the input `x` is not
    renamed `x_`, and an input named like a value the exporter makes (`relu`) keeps its name too."""
    spec = "network T(x: [N, 4]) -> [N, 4] {\n    a: linear(8) from b\n    b: tanh from x\n    c: relu from x\n}\n"
    with pytest.warns(alexnet_dsl.DslWarning):
        result = export_onnx(spec, tmp_path / "t.onnx")
    assert result.input_name == "x" and result.output_dims[1:] == (4,) and result.disagreements == []
    x = torch.randn(3, 4)
    np.testing.assert_array_equal(run_onnx(tmp_path / "t.onnx", x), torch.relu(x).numpy())  # relu is exact
    spec = "network T(relu: [N, 3, 6, 6]) {\n    c: conv(2, kernel=3)\n    r: relu\n}\n"
    result = export_onnx(spec, tmp_path / "r.onnx")
    model = onnx.load(str(tmp_path / "r.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert result.input_name == "relu" and [i.name for i in model.graph.input] == ["relu"]
    assert run_onnx(tmp_path / "r.onnx", torch.randn(1, 3, 6, 6)).shape == (1, 2, 4, 4)


def test_an_export_failure_is_one_line_that_suggests_binding_sizes(tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise RuntimeError(
            "Failed to export the model with torch.export.\n\n## Exception summary\n\n"
            "<class 'AssertionError'>: Expected op to be '==', got <\n\n(more)"
        )

    monkeypatch.setattr(torch.onnx, "export", fail)
    spec = tmp_path / "branchy.net"
    spec.write_text(BRANCHY)
    out = tmp_path / "branchy.onnx"
    assert main(["export", str(spec), "--onnx", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "torch.export cannot keep `H`, `W` symbolic (<class 'AssertionError'>: Expected op" in err
    assert "bind them with --sizes H=" in err and not out.exists()


# ---------------------------------------------------------------------------- ceil-mode pools


def pool_reference(
    kind: str, x: torch.Tensor, k, s, p, ceil: bool, cip: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's pool in float64 and an elementwise bound on float32 results' distance from it: a max is exact;
    an average is a sum of at most n = k_h k_w rounded terms (gamma_n of the sum of |x|, Higham 3.1) and a
    few divisions (a relative u each), for torch's value and for ONNX's alike, hence twice over."""
    if kind == "max":
        want = F.max_pool2d(x.double(), k, s, p, ceil_mode=ceil)
        return want, torch.zeros_like(want)
    want = F.avg_pool2d(x.double(), k, s, p, ceil_mode=ceil, count_include_pad=cip)
    mean_abs = F.avg_pool2d(x.double().abs(), k, s, p, ceil_mode=ceil, count_include_pad=cip)
    return want, (2 * gamma(k[0] * k[1]) + 8 * U32) * mean_abs


def test_ceil_mode_pool_whose_last_window_would_start_in_the_padding_exports(tmp_path):
    """The issue's case: PyTorch drops the window that would start in the right padding (5 -> 3 rows, not 4);
    exported as ONNX `ceil_mode`, onnx.checker's shape inference disagrees and nothing was written."""
    text = "network P(x: [N, 3, 5, 6]) {\n    p: maxpool(kernel=2, stride=2, padding=1, ceil=true)\n}\n"
    path = tmp_path / "p.onnx"
    result = export_onnx(text, path)
    assert result.disagreements == [] and result.output_dims == ("N", 3, 3, 4)
    x = torch.randn(2, 3, 5, 6)
    want = F.max_pool2d(x, 2, 2, 1, ceil_mode=True)
    got = torch.from_numpy(run_onnx(path, x))
    assert got.shape == want.shape == (2, 3, 3, 4) and torch.equal(got, want)


def test_ceil_mode_pools_of_a_network_named_f_export_too(tmp_path):
    """A network called `F` keeps its class name and its generated file imports torch's `F` as `_F`: the
    export's swap of the pools must reach that `_F`, not the class."""
    text = "network F(x: [N, 3, 5, 6]) {\n    p: maxpool(kernel=2, stride=2, padding=1, ceil=true)\n}\n"
    path = tmp_path / "f.onnx"
    result = export_onnx(text, path)
    assert result.disagreements == [] and result.output_dims == ("N", 3, 3, 4)
    x = torch.randn(2, 3, 5, 6)
    assert torch.equal(torch.from_numpy(run_onnx(path, x)), F.max_pool2d(x, 2, 2, 1, ceil_mode=True))


_pool = st.tuples(
    st.sampled_from(["max", "avg"]),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),  # kernel
    st.tuples(st.integers(1, 4), st.integers(1, 4)),  # stride
    st.tuples(st.integers(0, 2), st.integers(0, 2)),  # padding, clipped to kernel // 2 below
    st.booleans(),  # ceil
    st.booleans(),  # count_include_pad
)


@settings(max_examples=8)
@given(_pool, st.lists(st.tuples(st.integers(5, 13), st.integers(5, 13)), min_size=3, max_size=3))
def test_random_pools_exported_compute_what_torch_computes(tmp_path_factory, pool, sizes):
    """A random pool, H and W dynamic: the ONNX model in onnxruntime equals PyTorch's pool at three input
    sizes, within its error bound (the rewrite of ceil mode must hold for every size, not the traced one)."""
    kind, k, s, p, ceil, cip = pool
    p = (min(p[0], k[0] // 2), min(p[1], k[1] // 2))
    args = f"kernel=({k[0]}, {k[1]}), stride=({s[0]}, {s[1]}), padding=({p[0]}, {p[1]}), ceil={str(ceil).lower()}"
    if kind == "avg":
        args += f", count_include_pad={str(cip).lower()}"
    text = f"network Pool(x: [N, 2, H, W]) {{\n    p: {kind}pool({args})\n}}\n"
    path = tmp_path_factory.mktemp("pool") / "pool.onnx"
    result = export_onnx(text, path)
    assert result.dynamic == ("N", "H", "W") and result.disagreements == []
    for h, w in sizes:
        x = torch.randn(2, 2, h, w)
        got = torch.from_numpy(run_onnx(path, x)).double()
        want, bound = pool_reference(kind, x, k, s, p, ceil, cip)
        assert got.shape == want.shape, (args, h, w)
        assert bool(((got - want).abs() <= bound).all()), (args, h, w, ((got - want).abs() - bound).max())


def test_cli_export_prints_each_warning_once_in_dslcs_format(tmp_path):
    """The spec's warning was printed by dslc and then again by Python's warnings machinery (with the source
    line of cli_interop.py) when `alexnet_dsl.compile` warned for library users: a real process, as a user runs it."""
    import subprocess

    spec = tmp_path / "w.net"
    spec.write_text("network T(x: [N, 3, 10, 10]) {\n    c: conv(4, kernel=3, stride=2)\n}\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "alexnet_dsl.cli.main",
            "export",
            str(spec),
            "--onnx",
            str(tmp_path / "w.onnx"),
            "--color",
            "never",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("W0401") == 1 and r.stderr.count("drops the last 1 row") == 1, r.stderr
    assert "DslWarning" not in r.stderr and ".py:" not in r.stderr, r.stderr
