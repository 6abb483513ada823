"""The Python names a generated module gives to the spec's names, and to its own.

Names from the spec never reach the source unchecked, and survive wherever Python allows: the
grammar admits only ASCII identifiers, and `mangle` appends `_` only to Python keywords, names
starting with `_` and names `nn.Module` already has, so `class: conv(...)` becomes the attribute
`class_` (and the state_dict key `class_.weight`) while `check_input: conv(...)` stays
`check_input`. The generated code's own names give way instead: its members and helpers start with
`_` (`_check_input`, `_lrn`), which no mangled name can equal.
"""

from __future__ import annotations

import io
import keyword
import tokenize

from alexnet_dsl import ir

# Names nn.Module already has (its methods, class attributes and `training`): a submodule cannot be
# registered under them, so a layer of that name gets `_` appended. tests/backend/test_compile.py keeps the set
# equal to what the installed torch has (codegen must not import torch: `dslc compile` runs without it).
MODULE_ATTRS = {
    "T_destination",
    "add_module",
    "apply",
    "bfloat16",
    "buffers",
    "call_super_init",
    "children",
    "compile",
    "cpu",
    "cuda",
    "double",
    "dump_patches",
    "eval",
    "extra_repr",
    "float",
    "forward",
    "get_buffer",
    "get_extra_state",
    "get_parameter",
    "get_submodule",
    "half",
    "ipu",
    "load_state_dict",
    "modules",
    "mtia",
    "named_buffers",
    "named_children",
    "named_modules",
    "named_parameters",
    "parameters",
    "register_backward_hook",
    "register_buffer",
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook",
    "register_module",
    "register_parameter",
    "register_state_dict_post_hook",
    "register_state_dict_pre_hook",
    "requires_grad_",
    "set_extra_state",
    "set_submodule",
    "share_memory",
    "state_dict",
    "to",
    "to_empty",
    "train",
    "training",
    "type",
    "xpu",
    "zero_grad",
}
# Names the generated module binds at top level, which the class and `forward`'s parameter must not shadow.
# The generated code's own members and helpers start with `_` and do not end with it (`_check_input`,
# `_lrn`); a spec name starting with `_` gets `_` appended, so the two never clash.
TOP_NAMES = {"torch", "nn", "F", "annotations", "LRNParams", "fused_conv2d"}
# Public names for two generated methods; a layer of the same name takes precedence (they stay
# available as `_check_input` and `_reset_parameters_paper`).
PUBLIC_METHODS = {"check_input": "_check_input", "reset_parameters_paper": "_reset_parameters_paper"}


def mangle(name: str) -> str:
    """A layer name as a submodule name (the attribute and the state_dict key): the name itself, or with
    `_` appended where Python or nn.Module cannot take it (a keyword, a name starting with `_`, a name
    nn.Module already has)."""
    if keyword.iskeyword(name) or name.startswith("_") or name in MODULE_ATTRS:
        return name + "_"
    return name


def attr_path(name: str) -> str:
    """A layer's submodule as an attribute path from the network: `block1.conv` -> `block1.conv`,
    `class.conv` -> `class_.conv`."""
    return ".".join(mangle(part) for part in name.split("."))


def class_name(name: str) -> str:
    """The network's name as the class name: `_` appended only for a keyword or a name starting with `_`.
    A class named like one of the module's imports (`F`, `torch`, ...) keeps its name: the generated code's
    own uses of that import take a private name instead (see `rename_own_names`)."""
    if keyword.iskeyword(name) or name.startswith("_"):
        return name + "_"
    return name


def input_arg(net: ir.Network) -> str:
    """`forward`'s parameter: the input's own name, with `_` appended only where Python cannot take it
    (a keyword, `self`, a name starting with `_`, a name the generated module imports). Messages and
    the exported ONNX input use the input's own name."""
    name = net.input_name
    if keyword.iskeyword(name) or name == "self" or name.startswith("_") or name in TOP_NAMES:
        return name + "_"
    return name


def imports_renamed(net: ir.Network) -> set[str]:
    """The imports the generated file takes under a private name (`F` as `_F`) because the class has theirs."""
    return {class_name(net.name)} & (TOP_NAMES - {"annotations"})


def rename_own_names(source: str, names: set[str]) -> str:
    """`source` with the generated code's own uses of the imported `names` renamed `_NAME` (`F.relu` ->
    `_F.relu`); attributes, strings, comments and import statements (codegen writes those) are left alone."""
    edits: list[tuple[int, int]] = []  # where to insert `_`
    statement: list[tokenize.TokenInfo] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                statement.append(tok)
            continue
        if statement and statement[0].string not in ("import", "from"):
            edits += [
                t.start
                for i, t in enumerate(statement)
                if t.type == tokenize.NAME
                and t.string in names
                and not (i and statement[i - 1].string == ".")
            ]
        statement = []
    lines = source.split("\n")
    for row, col in sorted(edits, reverse=True):
        lines[row - 1] = lines[row - 1][:col] + "_" + lines[row - 1][col:]
    return "\n".join(lines)


def safe_comment(text: str) -> str:
    """Text for a comment, docstring or f-string: printable ASCII on one line, no quotes that could close,
    no braces that an f-string would evaluate."""
    return "".join(ch if 32 <= ord(ch) < 127 and ch not in "\\\"'{}" else "?" for ch in text)


def fstring_text(text: str) -> str:
    """Text inside a double-quoted f-string, kept readable: braces doubled, no quote or backslash."""
    text = "".join(ch if 32 <= ord(ch) < 127 and ch != "\\" else "?" for ch in text).replace('"', "'")
    return text.replace("{", "{{").replace("}", "}}")
