"""The registry of diagnostic codes: a title and a long explanation with an example.

`dslc explain CODE` prints the explanation; `docs/errors.md` is generated from this table
(`python -m alexnet_dsl.codes > docs/errors.md`) and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    title: str
    explanation: str


CODES: dict[str, Code] = {
    # ---- reading the file
    "E0001": Code(
        "syntax error",
        """The text does not follow the grammar of the language. The message says what the parser
expected at that point, in words ("a layer name or op", "`)`", "the end of the line").

    network Bad(x: [N, 3, 32, 32]) {
        conv(16, kernel=3        # E0001: expected `,` or `)`
    }

Every layer is one line: `name: op(arguments) from source -> [shape]`, where everything but the
op is optional. Arguments may continue over several lines inside their parentheses.""",
    ),
    "E0002": Code(
        "unreadable input",
        """The file cannot be read as text: it is not valid UTF-8, contains a NUL byte, or uses a
character outside the language (names are ASCII identifiers, numbers use the ASCII digits 0-9: a
fullwidth `１６` or an Arabic-Indic `٣` is not read as a number). Save the file as UTF-8 and keep
non-ASCII characters inside comments. Line endings may be LF, CRLF or a lone CR.

Text copied from a paper or a PDF often carries typeset characters: a minus sign `−` (U+2212) or a
dash for `-`, a no-break space, typographic quotes, `×` between sizes, superscripts (`10⁻⁴`, `3²`).
The error names the character; where the ASCII one is unambiguous (`−` is `-`) the help replaces
each such character of the file, checked before it is shown.

    lrn(size=5, alpha=1e−4)    # E0002: character `−` (U+2212 MINUS SIGN); help: write `-`""",
    ),
    "E0003": Code(
        "no network",
        """A spec file must define exactly one `network`; it may define any number of `block`s.

    block stage(filters) { conv(filters, kernel=3) }
    # E0003: no `network NAME(input: [...]) { ... }` in this file""",
    ),
    # ---- ops and arguments
    "E0101": Code(
        "unknown op",
        """The op is neither a built-in op nor a block defined in this file. Unless a built-in op is spelt
alike, the error lists the built-in ops (the README's "Ops" table explains each).

The help proposes only the same op under another spelling: another case (`ReLU`), another framework's
name for it (`dense`, `Conv2d`, `BatchNorm2d`) or a typo; where the call is then also wrong for dslc's
op (PyTorch's `BatchNorm2d(64)`, a bare `Linear`), the proposed rewrite fixes the call too. A
well-known op that dslc lacks (`selu`, `PReLU`, `LogSoftmax`, `softplus`, `GroupNorm`, ...) is never
replaced by a different op that happens to be spelt alike: the help says it is not an op of dslc yet.

    fc6: dense(4096)      # E0101: unknown op `dense`; help: did you mean `linear`?
    act: selu             # E0101: unknown op `selu`; help: `selu` is not an op of dslc yet""",
    ),
    "E0102": Code(
        "unknown argument",
        """The op has no argument of that name. The help line suggests the closest known name.
TensorFlow's `depth_radius` for LRN is the half width of the window: `size = 2 * depth_radius + 1`.
Other frameworks' names are recognised (PyTorch's `kernel_size`, `out_channels`, Caffe's
`num_output`, Keras's `units`, ...); arguments dslc infers from the input (`in_channels`,
`in_features`, `num_features`) are to be dropped. Several such names in one call (a line of
PyTorch: `conv(in_channels=3, out_channels=16, kernel_size=3)`) are one error, whose help writes the
whole call in dslc's names (`conv(16, kernel=3)`).

    conv1: conv(96, kernel=11, strides=4)   # E0102: `conv` has no argument `strides`""",
    ),
    "E0103": Code(
        "missing argument",
        """A required argument was not given (one error for all that a call lacks). The help completes
the call with example values taken from the line's assertion or the network's declared output, shown
only if the completed network checks.

    conv1: conv(96)       # E0103: `conv` needs `kernel`; help: write `conv(96, kernel=3)`""",
    ),
    "E0104": Code(
        "wrong argument type",
        """An argument has the wrong kind of value: a float where an integer is needed, a pair where
a single number is needed, a name where a number is needed. Integers are accepted where a float is
expected (`k=2`), but not the other way round.

    conv(96, kernel=5.5)  # E0104: `kernel` must be an integer or a pair, got `5.5`""",
    ),
    "E0105": Code(
        "argument out of range",
        """An argument's value is outside the range the op accepts: sizes and strides are at least 1,
paddings at least 0, probabilities in [0, 1], a pooling padding at most half the kernel.

    dropout(1.5)          # E0105: `p` must be in [0, 1], got 1.5""",
    ),
    "E0106": Code(
        "argument given twice or too many arguments",
        """An argument was given twice (positionally and by keyword, or twice by keyword), or more
positional arguments were given than the op takes.

    conv(96, 11, kernel=11)   # E0106: `conv` takes 1 positional argument (`filters`)""",
    ),
    # ---- names and structure
    "E0201": Code(
        "duplicate name",
        """Two layers (or two blocks, or two parameters of a block) have the same name. The error is
on the second; a note points at the first. Unnamed layers get automatic names (`relu1`, `relu2`,
...) that never collide with names you write.""",
    ),
    "E0202": Code(
        "unknown name",
        """A layer refers (with `from`, or in `add(...)`/`concat(...)`) to a name that is not a layer,
nor the network's input (`input` inside a block); or a block argument uses an undefined parameter.

    merged: add(conv2, conv9)   # E0202: no layer named `conv9`""",
    ),
    "E0203": Code(
        "cycle",
        """Layers refer to each other in a cycle, so no order computes them, or a block uses itself
(directly or through other blocks). The message lists the cycle.""",
    ),
    "E0204": Code(
        "invalid name",
        """A name is reserved or cannot be used: `input` names the input inside blocks, and a name
cannot be a built-in op's or block's own keyword (`network`, `block`, `from`), `true`, `false` or
`same`. A block cannot take a built-in op's name (`block conv(f) {...}`): that is one error, and a
call of that name that is wrong for the built-in op is not reported again (it may be meant for the
block). A block parameter cannot take the name of the batch symbol (`block stage(N)` in a network
whose input is `[N, ...]`): in the block's assertions `N` would be the parameter, not the batch.""",
    ),
    "E0205": Code(
        "blocks nested too deeply",
        """Block calls are nested more than 64 levels deep (a block calling a block calling a block...),
without any cycle. dslc expands blocks recursively and stops there; expand some of the blocks into
their callers. A block that calls itself, directly or through others, is E0203.""",
    ),
    # ---- shapes
    "E0301": Code(
        "shape assertion does not hold",
        """A layer's `-> [...]` assertion differs from the shape the layer produces. The notes show
the arithmetic; the help proposes the one argument change (padding, stride or kernel, in that
order of preference; a conv's filters for its channels) and the input size that give the asserted
shape. Every help that proposes a change of the spec was checked on the rewritten spec before it is
shown, and `--format json` gives its edits (`fixes`).

One mistake gives one error. After a failed assertion the checker goes on from whichever shape
leaves fewer errors in the layers after it: the asserted one when the layer (or the input size) is
the mistake, as in AlexNet at 224 below, where every later assertion agrees with 55x55; the computed
one when the assertion is the mistake (`-> [N, 48, 55, 55]` for a 96-filter conv whose next layers
expect 96 channels). A note on the error says which was chosen, and what the counts cover: the
layers the shape reaches, up to where both choices agree again. On a tie, the asserted shape,
unless no argument of the layer itself can change the sizes that differ (`flatten -> [N, 4096]`
over 9216 features, a pool's channels): that layer cannot be the mistake, so checking goes on from
the computed shape and the help rewrites the assertion. An assertion in a block's body is one error
however many instances it fails in; its help writes each failing size as every instance computes
it, or `_` where they differ.

    network AlexNet(image: [N, 3, 224, 224]) {
        conv1: conv(96, kernel=11, stride=4) -> [N, 96, 55, 55]
        # E0301: (224 - 11) / 4 + 1 = 54.25, floored to 54
        # help: with `padding=2`, `conv1` gives 55x55; an input of 227x227 gives 55x55 exactly
    }""",
    ),
    "E0302": Code(
        "declared output does not match",
        """The network header declares an output shape (`-> [N, 1000]` after the input) that differs
from what the last layer produces. The help proposes the argument of the layer that makes the
differing sizes (walking back over activations, dropout, LRN and batchnorm: `fc8: linear(1000)` under
`-> [N, 10]` gets `linear(10)`), and the declaration written as computed; each only once the rewritten
spec checks.""",
    ),
    "E0303": Code(
        "groups do not divide the input channels",
        """A grouped convolution splits its input channels into `groups` equal parts, so the number
of input channels must be a multiple of `groups`; so must the channels of a `channel_shuffle`.

    conv(64, kernel=3, groups=2)   # on a 3-channel input: E0303""",
    ),
    "E0304": Code(
        "groups do not divide the output channels",
        """A grouped convolution produces `filters / groups` channels per group, so `filters` must be
a multiple of `groups`.

    conv(95, kernel=3, groups=2)   # E0304: 95 filters in 2 groups""",
    ),
    "E0305": Code(
        "kernel larger than its padded input (an empty output)",
        """A convolution or pooling window (its effective size `dilation * (kernel - 1) + 1`) is
larger than the input plus padding, so the output would have no rows or columns (with `ceil=true`
PyTorch lets a window hang over the edge, and this is reported only when the output would be empty).
The note shows where the input size came from. A `conv_transpose` whose padding removes more than
its window adds (`(H - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 < 1`)
has an empty output too.

    pool: maxpool(kernel=3)   # on a 2x2 input: E0305""",
    ),
    "E0306": Code(
        "wrong rank",
        """The op needs a tensor of a different rank: `conv` and the pooling ops need [N, C, H, W];
`linear` needs [N, features] (insert `flatten` before it); `flatten` of an already flat tensor is
allowed. The network input must be [N, C, H, W] or [N, features].""",
    ),
    "E0307": Code(
        "inputs of a join do not match",
        """`add` needs inputs of exactly the same shape; `concat` joins over channels and needs the
same rank and the same sizes in every other dimension. `mul` broadcasts as PyTorch does, on inputs
of the same rank: in each dimension the sizes are equal, or one of them is 1 and is repeated
(squeeze-excitation's `[N, 64, 7, 7]` x `[N, 64, 1, 1]`; `[N, 64, 7, 7]` x `[N, 32, 1, 1]` is this
error, on the channels). A size that depends on the input's symbols must equal the other input's:
it is never broadcast, even at an input size where it would be 1. The message shows both shapes and
where each came from.""",
    ),
    "E0308": Code(
        "no admissible input size",
        """With symbolic input sizes (`[N, 3, H, W]`), no value of a symbol satisfies every
constraint of the network: the layer named is where the set of admissible values became empty.
The note gives the values admissible before that layer. An assertion that no size satisfies is one
error naming every axis it fails on.""",
    ),
    "E0309": Code(
        "invalid shape declaration",
        """The network's input or output shape, or a layer's asserted shape, is malformed: an empty
shape, a dimension of size zero, a batch dimension that differs between input and output, or a
symbol that the input does not define (`-> [N, 8, H, H]` in a network over `[N, 3, 32, 32]`), or the
batch symbol used as another size (`[N, 3, N, N]`, `-> [N, N, 30, 30]`: a compiled module takes the
batch from each input and checks no other size against it). In an assertion, write `_` for a size
you do not want to check; inside a block, a parameter of the block may be used as a size
(`-> [N, filters, _, _]`). The problems of one shape are one error.""",
    ),
    "E0310": Code(
        "padding `same` with a stride",
        """PyTorch supports `padding=same` only for stride 1 (and for convolutions only): with a
stride the output cannot keep the input size. Give the padding as numbers instead.""",
    ),
    "E0311": Code(
        "unbound size",
        """A network is compiled while a parameter shape still depends on a symbolic input size: a
`linear` after `flatten` whose input features depend on `H` and `W`, or a `conv` on a symbolic
number of channels. Bind the symbols when compiling (`alexnet_dsl.compile(spec, H=227, W=227)`,
`dslc compile --sizes H=227,W=227`), or assert the shape before the layer (`-> [N, 256, 6, 6]`)
so that every admissible size gives the same parameters.""",
    ),
    "E0312": Code(
        "network too large for the memory budget",
        """Compiling would allocate more memory for parameters (and one sample's activations) than the
budget allows: by default half of this machine's memory. Raise the budget with
`compile(..., memory_budget=BYTES)` or the environment variable `DSLC_MEMORY_BUDGET` (bytes, or
suffixed with K, M, G), or pass `memory_budget=None` to turn the guard off.""",
    ),
    "E0313": Code(
        "sizes the checker cannot follow",
        """Upsampling and transposed convolutions multiply a symbolic size (`2 * H`); a later window
is followed exactly when its stride divides that factor or the factor divides its stride (a stride-2
pooling after a 2x upsampling). A stride of 3 after a 2x upsampling gives sizes of a form the solver
does not represent, so the layer's shape is unknown. Give the input sizes as numbers, or change the
stride or the upsampling factor. The same holds for `chunk` of channels that are a sum or a product of
symbols (a `concat` of `[N, C, ...]` with itself, a flatten of `[N, 4, H, W]`).""",
    ),
    # ---- warnings
    "W0401": Code(
        "rows or columns silently dropped",
        """A convolution or pooling layer's window does not fit a whole number of times into its
padded input, so the last rows or columns of real data are never read. AlexNet's conv1 at 224
drops one row and one column: (224 - 11) / 4 + 1 = 54.25. For a layer on the network's input, the
help gives the nearest input sizes below and above that divide exactly, each only if the spec checks
with it (227 here; 223 would break conv1's assertion); for a layer inside the network a note gives
the input sizes that would divide exactly.""",
    ),
    "W0402": Code(
        "adaptive pooling is not the identity",
        """An `adaptive_avgpool(output)` at this input size is not the identity (its input is not already
`output` x `output`): along an axis where the input is larger it averages windows, where it is
smaller it repeats input values (windows of one or two elements), and the windows overlap or differ
in size when neither size is a multiple of the other. Often intended (torchvision's AlexNet at other
input sizes); stated so it is explicit.""",
    ),
    "W0403": Code(
        "suspicious LRN alpha",
        """`alpha=10e-4` is 1e-3, not 1e-4: articles about AlexNet often write `10e-4` when they mean
the paper's 10^-4. Write `1e-4` (or `1e-3` if that is what you mean).""",
    ),
    "W0404": Code(
        "unused layer",
        """A layer's output is never used: no layer reads it and it is not the network's
output. Its parameters would still be created and trained for nothing.""",
    ),
    "W0405": Code(
        "LRN alpha looks averaged",
        """`lrn(alpha=...)` takes the paper's alpha, which is NOT divided by the window size. A value
equal to the paper's 1e-4 multiplied by `size` (like 5e-4 with size 5) is what PyTorch, Caffe,
ONNX and cuDNN write; if it came from one of them, write `avg_alpha=5e-4` instead.""",
    ),
    "W0406": Code(
        "written, but over this machine's memory budget",
        """`dslc compile` writes the module of a network whose parameters (and one sample's
activations) exceed the memory budget that `alexnet_dsl.compile` enforces with E0312: by default
half of this machine's memory, or `DSLC_MEMORY_BUDGET`. Writing source allocates nothing, and the
file is often run on another, larger machine, so it is written (the same bytes on every machine);
instantiating it here would likely run out of memory, and `alexnet_dsl.compile` refuses it here.""",
    ),
    # ---- notes
    "N0501": Code(
        "admissible input sizes",
        """For a network with symbolic input sizes, the exact set of values for which every layer
checks, as inclusive ranges. When symbols constrain each other (a flatten into an asserted size,
or an assertion that names one symbol on another's axis: `-> [N, 8, _, H]`), each symbol's set
holds the values for which some choice of the others works. When an exact answer would cost more
than the solver's fixed work budget (a period of millions, a product with too many divisors), the
note says the set is a superset: it holds every size that checks, and maybe some that do not; the
compiled module checks that constraint on each input.""",
    ),
}


def markdown() -> str:
    """The text of docs/errors.md."""
    out = [
        "# Diagnostic codes",
        "",
        "Generated from `alexnet_dsl/codes.py`; `dslc explain CODE` prints one.",
        "",
    ]
    for code, entry in CODES.items():
        out += [f"## {code}: {entry.title}", "", entry.explanation, ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
