"""Every `help` that proposes a rewrite of the spec was checked before it is shown.

A help that proposes a change (an argument, the input's sizes, a spelling) carries its edits
(`Diagnostic.rewrites`). Applied, the edits give a spec where that mistake is gone and nothing got
worse: fewer errors (a name's correction or a warning's fix: no more), and none left on the
diagnostic's line. The networks are random: the generic
broken networks, and mistakes made for helps to answer (a window argument changed under the
layer's original assertion, PyTorch's positional constructors, Python's `True`/`False`).
"""

from __future__ import annotations

import re

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from profiles import scaled

from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.diagnostics import apply_edits
from alexnet_dsl.frontend.foreign import MISSING_OPS
from alexnet_dsl.testing import broken_networks, networks

# helps phrased as a proposal of a change: each of these must be a verified rewrite
_PROPOSAL = re.compile(
    r"^(write |name them|if this is PyTorch's|with `|an input .* (gives|divides)|"
    r"the whole network checks|for the paper's|use (`|\d)|give the padding|insert `|did you mean)"
)


def assert_rewrites_verified(a: Analysis) -> int:
    """Apply each shown rewrite on its own and re-check; returns how many there were."""
    before = len(a.errors)
    count = 0
    for d in a.diagnostics:
        carried = {r.help for r in d.rewrites}
        for h in d.helps:
            assert not _PROPOSAL.match(h) or h in carried, f"unverified proposal: {h!r}"
        for r in d.rewrites:
            count += 1
            after = check_text(apply_edits(a.source.text, r.edits))
            assert after.network is not None, (r, a.source.text)
            line = d.span.line
            # a name's correction answers its own diagnostic; another mistake may stay on the line
            still = [
                e
                for e in after.diagnostics
                if e.span is not None
                and e.span.line == line
                and (e.is_error and not r.name_only or e.code == d.code)
            ]
            assert not still or len(after.errors) < before, (
                r.help,
                a.source.text,
                [e.message for e in still],
            )
            if d.is_error and not r.name_only:  # an error's fix leaves fewer errors, not one moved elsewhere
                assert len(after.errors) < before, (r.help, a.source.text)
            else:  # a name's correction may uncover what the unknown name hid; a warning's fix removes none
                assert len(after.errors) <= before, (r.help, a.source.text)
    return count


@settings(max_examples=scaled(60), deadline=None)
@given(broken_networks())
def test_rewrites_of_broken_networks_check(broken):
    assert_rewrites_verified(check_text(broken.text))


_ARGUMENT = re.compile(r"\b(padding|stride|kernel)=(\(\d+, \d+\)|\d+)")


@st.composite
def helped_mistakes(draw) -> tuple[str, str]:
    """A valid random network with one mistake a help can fix; (the spec, which mistake)."""
    net = draw(networks(max_layers=6, head=False))
    lines = net.text.splitlines()
    mistake = draw(
        st.sampled_from(
            [
                "window",
                "window",
                "python_literal",
                "torch_positional",
                "same_stride",
                "filters",
                "output",
                "torch_class",
            ]
        )
    )
    if mistake == "window":
        # one window argument changed, the layer's true shape asserted: a transcription mistake
        picks = [
            i
            for i, line in enumerate(lines)
            if ("pool(" in line or "conv(" in line) and _ARGUMENT.search(line)
        ]
        assume(picks)
        i = draw(st.sampled_from(picks))
        name = lines[i].strip().split(":")[0]
        found = list(_ARGUMENT.finditer(lines[i]))
        m = draw(st.sampled_from(found))
        lo = 0 if m.group(1) == "padding" else 1
        value = draw(st.integers(lo, lo + 4))
        c, h, w = net.shapes[name]
        lines[i] = lines[i][: m.start(2)] + str(value) + lines[i][m.end(2) :] + f" -> [N, {c}, {h}, {w}]"
        lines = lines[: i + 1] + lines[-1:]  # the asserted layer ends the network
    elif mistake == "python_literal":
        picks = [i for i, line in enumerate(lines) if "=true" in line or "=false" in line]
        assume(picks)
        i = draw(st.sampled_from(picks))
        lines[i] = lines[i].replace("=true", "=True").replace("=false", "=False")
    elif mistake == "same_stride":  # TensorFlow's `padding="SAME"` with a stride: E0310
        picks = [
            i
            for i, line in enumerate(lines)
            if re.search(r"conv\(.*stride=(\d|\(\d+, \d+\)), padding=", line)
        ]
        assume(picks)
        i = draw(st.sampled_from(picks))
        lines[i] = re.sub(
            r"stride=(\(\d+, \d+\)|\d+), padding=(\(\d+, \d+\)|\d+)", "stride=2, padding=same", lines[i]
        )
    elif mistake == "output":  # a declared output with one size wrong: E0302
        c, h, w = net.shapes[net.output]
        axis = draw(st.integers(0, 2))
        dims = [c, h, w]
        dims[axis] += draw(st.sampled_from([-1, 1])) if dims[axis] > 1 else 1
        lines[0] = lines[0].replace(") {", f") -> [N, {dims[0]}, {dims[1]}, {dims[2]}] {{")
    elif mistake == "torch_class":  # PyTorch's class names: `Conv2d(...)`, `ReLU`, `BatchNorm2d(C)`: E0101
        classes = {
            "conv": "Conv2d",
            "maxpool": "MaxPool2d",
            "avgpool": "AvgPool2d",
            "relu": "ReLU",
            "tanh": "Tanh",
            "sigmoid": "Sigmoid",
            "batchnorm": "BatchNorm2d",
            "softmax": "Softmax",
        }
        picks = [
            (i, m)
            for i, line in enumerate(lines)
            if (m := re.search(r": (conv|maxpool|avgpool|relu|tanh|sigmoid|batchnorm|softmax)\b(\(?)", line))
        ]
        assume(picks)
        i, m = draw(st.sampled_from(picks))
        name = lines[i].strip().split(":")[0]
        new = classes[m.group(1)]
        if m.group(1) == "batchnorm" and not m.group(2):  # PyTorch's nn.BatchNorm2d(num_features)
            new += f"({net.shapes[name][0]})"
        lines[i] = lines[i][: m.start(1)] + new + lines[i][m.end(1) :]
    elif mistake == "filters":  # groups that do not divide the filters: E0304
        picks = [i for i, line in enumerate(lines) if re.search(r"groups=[2-9]", line)]
        assume(picks)
        i = draw(st.sampled_from(picks))
        lines[i] = re.sub(r"conv\((\d+),", lambda m: f"conv({int(m.group(1)) + 1},", lines[i], count=1)
    else:
        # PyTorch's order: nn.Conv2d(in_channels, out_channels, kernel_size, ...)
        picks = [i for i, line in enumerate(lines) if re.search(r"conv\(\d+, kernel=", line)]
        assume(picks)
        i = draw(st.sampled_from(picks))
        c_in = draw(st.integers(1, 8))
        lines[i] = re.sub(r"conv\((\d+), kernel=(\(\d+, \d+\)|\d+)", rf"conv({c_in}, \1, \2", lines[i])
    return "\n".join(lines) + "\n", mistake


@settings(max_examples=scaled(80), deadline=None)
@given(helped_mistakes())
def test_rewrites_of_helped_mistakes_check(case):
    text, mistake = case
    a = check_text(text)
    shown = assert_rewrites_verified(a)
    event(f"{mistake}: {'a rewrite shown' if shown else 'no rewrite'}")
    # the property is not vacuous: each of these mistakes gets a verified rewrite (a changed window
    # argument may also give the asserted size, or a window too large: no assertion error to answer)
    # (a changed padding or number of filters may break layers after it: then nothing may be shown)
    if mistake in ("python_literal", "torch_positional", "output", "torch_class") or [
        d.code for d in a.errors
    ] == ["E0301"]:
        assert shown >= 1, (text, [(d.code, d.helps) for d in a.diagnostics])


@settings(max_examples=scaled(40), deadline=None)
@given(st.sampled_from(["relu", "tanh", "sigmoid", "softmax", "flatten", "batchnorm"]), st.data())
def test_did_you_mean_proposes_the_same_op_in_another_case(op, data):
    spelt = "".join(data.draw(st.sampled_from([ch.lower(), ch.upper()])) for ch in op)
    assume(spelt != op)
    d = check_text(f"network T(x: [N, 3, 8, 8]) {{\n    {spelt}\n}}\n").errors[0]
    assert [r.help for r in d.rewrites] == [f"did you mean `{op}`?"], d.helps


@settings(max_examples=scaled(40), deadline=None)
@given(
    st.sampled_from(
        sorted(MISSING_OPS)
        + [
            "SELU",
            "LogSoftmax",
            "CELU",
            "PReLU",
            "log_softmax",
            "RMSNorm",
            "GroupNorm",
            "Softplus",
            "RReLU",
            "MaxUnpool2d",
        ]
    ),
    st.booleans(),
)
def test_an_op_of_another_framework_is_never_proposed_as_a_different_one_of_ours(name, call):
    """`selu` is one letter from `elu` and `LogSoftmax` contains `softmax`: they compute something else."""
    d = check_text(f"network T(x: [N, 3, 8, 8]) {{\n    {name}{'(3)' if call else ''}\n}}\n").errors[0]
    assert d.code == "E0101" and not d.rewrites, d.helps
    assert d.helps == (f"`{name}` is not an op of dslc yet",), d.helps
