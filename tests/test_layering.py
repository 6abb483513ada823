"""The package's layout as a rule: each stage imports only the stages before it, with no cycle, no private
name or module taken from another module and no module too long to read.

    base <- ir <- frontend <- analysis <- {backend, tools} <- interop <- cli

base is `source`, `diagnostics`, `codes`, `files`, `extras`, `units` and `_version`. A module imports from its
own folder or a folder to its left (imports inside functions and under `if TYPE_CHECKING:` count too); backend
and tools never import each other; nothing imports cli but `__main__`; nothing imports the package root (it is
the lazy public API; `from alexnet_dsl import ir` names a subpackage and is fine). `alexnet_dsl.testing`
(public) and the root sit at the top: they may import anything but cli. `kernels/` is not on the chain: it
imports the standard library, torch, triton and, of the package, only the base, because a missing torch or
Triton must be one line naming its `pip install` (`alexnet_dsl.extras`, which kernels/__init__.py and
kernels/fused.py import). `backend/runtime/` (what generated files contain) imports the standard library,
torch, triton and `alexnet_dsl.kernels`.

An import is an `import` statement or a call of `importlib.import_module` or `__import__` with a literal name.
No module imports a private module (`_name`) of another, but `alexnet_dsl._version` (the usual name of a
package's version module: modules take `__version__` from it, since nothing imports the root).

The checker reads the source with `ast`, imports nothing, and is tried on small synthetic packages below, so
each rule is seen to fail.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "alexnet_dsl"
MAX_LINES = 450

BASE = {"source", "diagnostics", "codes", "files", "extras", "units", "_version"}
CHAIN = ("base", "ir", "frontend", "analysis")
# What each layer may import (besides the standard library and third-party packages).
ALLOWED = {
    "base": {"base"},
    "kernels": {"base", "kernels"},
    "runtime": {"runtime", "kernels"},
    "ir": {"base", "ir"},
    "frontend": {"base", "ir", "frontend"},
    "analysis": {*CHAIN},
    "backend": {*CHAIN, "backend", "runtime", "kernels"},
    "tools": {*CHAIN, "tools"},
    "interop": {*CHAIN, "backend", "runtime", "kernels", "tools", "interop"},
    "cli": {*CHAIN, "backend", "runtime", "kernels", "tools", "interop", "cli"},
    "testing": {*CHAIN, "backend", "runtime", "kernels", "tools", "interop", "testing"},
    "root": {*CHAIN, "backend", "runtime", "kernels", "tools", "interop", "testing"},
    "main": {"cli"},
}
FOLDERS = ALLOWED.keys() - {"root", "main", "base", "runtime"}  # a layer named by its folder (or module)
# The only outside packages kernels/ and backend/runtime/ may use, besides the standard library.
THIRD_PARTY = {"kernels": {"torch", "triton"}, "runtime": {"torch", "triton"}}
# The private modules (under the root) other modules may import.
IMPORTABLE_PRIVATE_MODULES = {"_version"}
# The calls that import a module named by their first argument.
IMPORT_CALLS = {
    "importlib.import_module",
    "import_module",
    "__import__",
    "importlib.__import__",
    "builtins.__import__",
}
RULE = "base <- ir <- frontend <- analysis <- {backend, tools} <- interop <- cli"


@dataclass(frozen=True)
class Import:
    """One import statement's dependency: `target` is a module of the package, or an outside module."""

    line: int
    target: str
    internal: bool
    names: tuple[str, ...] = ()  # names taken from `target` (not submodules): `from target import a, b`
    text: str = ""
    context: str = ""  # "" at import time, "in a function" or "under TYPE_CHECKING"


@dataclass
class Module:
    name: str
    path: Path
    text: str = field(repr=False)
    tree: ast.Module = field(repr=False)
    imports: list[Import] = field(default_factory=list, repr=False)

    @property
    def lines(self) -> int:
        return len(self.text.splitlines())

    @property
    def layer(self) -> str | None:
        return layer(self.name)


# ---------------------------------------------------------------------------- reading the package


def read_package(package: Path) -> dict[str, Module]:
    """Every module of the package under `package`, by dotted name, with its imports resolved."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        text = path.read_text(encoding="utf-8")
        modules[name] = Module(name, path, text, ast.parse(text, str(path)))
    for module in modules.values():
        module.imports = list(_imports(module, modules))
    return modules


def _imports(module: Module, modules: dict[str, Module]):
    is_package = module.path.name == "__init__.py"
    for node, context in _import_nodes(module.tree):
        text = ast.get_source_segment(module.text, node) or ""
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _deepest_module(alias.name, modules)
                yield Import(node.lineno, target or alias.name, target is not None, (), text, context)
            continue
        base = _resolve(module.name, is_package, node.level, node.module)
        if base not in modules:  # an outside module
            target = _deepest_module(base, modules)
            yield Import(node.lineno, target or base, target is not None, (), text, context)
            continue
        names = []
        for alias in node.names:
            if f"{base}.{alias.name}" in modules:  # a submodule, not a name
                yield Import(node.lineno, f"{base}.{alias.name}", True, (), text, context)
            else:
                names.append(alias.name)
        if names:
            yield Import(node.lineno, base, True, tuple(names), text, context)


def _import_nodes(node: ast.AST, context: str = ""):
    """Every import statement under `node`, in source order, with where it runs: deferred imports inside
    functions and the imports under `if TYPE_CHECKING:` count like the others, and so do the calls that
    import a literal name (`importlib.import_module("pkg.x")`), as the statement they stand for."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, context
        return
    if isinstance(node, ast.Call) and (statement := _import_call(node)) is not None:
        yield statement, context
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        context = context or "in a function"
    if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
        for statement in node.body:
            yield from _import_nodes(statement, "under TYPE_CHECKING")
        for statement in node.orelse:
            yield from _import_nodes(statement, context)
        return
    for child in ast.iter_child_nodes(node):
        yield from _import_nodes(child, context)


def _import_call(call: ast.Call) -> ast.Import | ast.ImportFrom | None:
    """The import statement a call with a literal name stands for: `import_module("pkg.x")` is `import pkg.x`,
    `import_module(".x", __package__)` is `from . import x`, and `__import__("pkg.x", fromlist=["a"])` is
    `from pkg.x import a`. None for any other call."""
    func = ast.unparse(call.func)
    if func not in IMPORT_CALLS or not call.args:
        return None
    name = call.args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    dotted = name.value.lstrip(".")
    level = len(name.value) - len(dotted)
    statement: ast.Import | ast.ImportFrom
    if level:
        package = _argument(call, 1, "package")
        if not (isinstance(package, ast.Name) and package.id == "__package__"):
            return None
        parent, _, last = dotted.rpartition(".")
        statement = ast.ImportFrom(module=parent or None, names=[ast.alias(last)], level=level)
    else:
        fromlist = _argument(call, 3, "fromlist") if func.endswith("__import__") else None
        names = [
            e.value
            for e in getattr(fromlist, "elts", [])
            if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
        statement = (
            ast.ImportFrom(dotted, [ast.alias(n) for n in names], 0)
            if names
            else ast.Import([ast.alias(dotted)])
        )
    return ast.copy_location(statement, call)


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _resolve(name: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of `from <level dots><target> import ...` written in module `name`."""
    if level == 0:
        return target or ""
    package = name.split(".") if is_package else name.split(".")[:-1]
    package = package[: len(package) - (level - 1)]
    return ".".join([*package, target] if target else package)


def _deepest_module(dotted: str, modules: dict[str, Module]) -> str | None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def layer(name: str) -> str | None:
    """The layer of the package's module `name`, or None for a module the rule does not place."""
    parts = name.split(".")[1:]
    if not parts:
        return "root"
    if parts == ["__main__"]:
        return "main"
    if len(parts) == 1 and parts[0] in BASE:
        return "base"
    if parts[:2] == ["backend", "runtime"]:
        return "runtime"
    return parts[0] if parts[0] in FOLDERS else None


# ---------------------------------------------------------------------------- the rules


def _where(module: Module, line: int, repo: Path) -> str:
    return f"{module.path.relative_to(repo)}:{line}"


def dependency_violations(modules: dict[str, Module], repo: Path) -> list[str]:
    """Imports against the dependency rule, the root import ban, and kernels'/runtime's outside imports."""
    package = min(modules, key=len)
    out = []
    for module in modules.values():
        mine = module.layer
        if mine is None:
            out.append(f"{_where(module, 1, repo)}: `{module.name}` has no place in the layering ({RULE})")
            continue
        for imp in module.imports:
            where = _where(module, imp.line, repo)
            if not imp.internal:
                top = imp.target.split(".")[0]
                allowed = THIRD_PARTY.get(mine)
                if allowed is not None and top not in allowed and top not in sys.stdlib_module_names:
                    out.append(
                        f"{where}: {mine} imports `{top}`; it may use only {sorted(allowed)} and the stdlib"
                    )
                continue
            if imp.target == package:
                out.append(f"{where}: `{imp.text}` imports the package root (the lazy public API)")
                continue
            theirs = layer(imp.target)
            if theirs is not None and theirs != "root" and theirs not in ALLOWED[mine]:
                out.append(f"{where}: {mine} imports {theirs} (`{imp.target}`), against {RULE}")
    return out


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm), as a path a -> .. -> a."""
    graph = {m.name: sorted({i.target for i in m.imports if i.internal}) for m in modules.values()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                group.append(stack.pop())
                if group[-1] == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(set(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted((_shortest_cycle(graph, group) for group in groups), key=lambda c: c[0])


def _shortest_cycle(graph: dict[str, list[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt == start:
                    return [*paths[node], start]
                if nxt in group and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def describe_cycle(cycle: list[str], modules: dict[str, Module]) -> str:
    """`a (line 3) -> b (line 9, in a function) -> a`: each step with the line of its import."""
    steps = []
    for here, there in itertools.pairwise(cycle):
        imp = next(i for i in modules[here].imports if i.target == there)
        steps.append(f"{here} (line {imp.line}{', ' + imp.context if imp.context else ''})")
    return " -> ".join([*steps, cycle[-1]])


def private_imports(modules: dict[str, Module], repo: Path) -> list[str]:
    """Underscore names (not dunders) another module takes: `from x import _name`, or `x._name` after
    `from pkg import x` / `import pkg.x as x`; and private modules another module imports (`import pkg._x`,
    `from pkg import _x`, `from pkg._x import y`), but for IMPORTABLE_PRIVATE_MODULES."""
    package = min(modules, key=len)
    importable = {f"{package}.{name}" for name in IMPORTABLE_PRIVATE_MODULES}
    out = []
    for module in modules.values():
        bound = {}  # local name -> the package module it is bound to
        for imp in module.imports:
            if imp.internal and imp.target != module.name:
                if _private(imp.target.rsplit(".", 1)[-1]) and imp.target not in importable:
                    out.append(f"{_where(module, imp.line, repo)}: `{imp.target}` is a private module")
                for name in imp.names:
                    if _private(name):
                        out.append(f"{_where(module, imp.line, repo)}: `{imp.target}.{name}` is private")
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                bound.update(_bindings(node, module, modules))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = _dotted(node.value, bound, modules)
                if owner is not None and owner != module.name:
                    out.append(f"{_where(module, node.lineno, repo)}: `{owner}.{node.attr}` is private")
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _bindings(node: ast.Import | ast.ImportFrom, module: Module, modules: dict[str, Module]):
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname and alias.name in modules:
                yield alias.asname, alias.name
            elif not alias.asname and alias.name.split(".")[0] in modules:
                yield alias.name.split(".")[0], alias.name.split(".")[0]
        return
    base = _resolve(module.name, module.path.name == "__init__.py", node.level, node.module)
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            yield alias.asname or alias.name, f"{base}.{alias.name}"


def _dotted(node: ast.expr, bound: dict[str, str], modules: dict[str, Module]) -> str | None:
    """The package module an expression like `pkg.sub.mod` names, if it names one."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value, bound, modules)
        if owner is not None and f"{owner}.{node.attr}" in modules:
            return f"{owner}.{node.attr}"
    return None


def long_modules(modules: dict[str, Module], repo: Path) -> list[str]:
    """Modules over MAX_LINES lines, except the Triton kernel files (a kernels/ module with an `@triton.jit`)."""
    return [
        f"{m.path.relative_to(repo)}: {m.lines} lines (at most {MAX_LINES})"
        for m in modules.values()
        if m.lines > MAX_LINES and not (m.layer == "kernels" and _has_kernel(m.tree))
    ]


def _has_kernel(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) == "triton.jit":
                    return True
    return False


def _report(what: str, violations: list[str]) -> str:
    return f"{what} ({len(violations)}):\n  " + "\n  ".join(violations)


# ---------------------------------------------------------------------------- the package


@pytest.fixture(scope="module")
def package() -> dict[str, Module]:
    return read_package(PACKAGE)


def test_every_import_follows_the_dependency_rule(package):
    violations = dependency_violations(package, ROOT)
    assert not violations, _report(f"imports against the layering {RULE}", violations)


def test_no_import_cycle(package):
    found = cycles(package)
    assert not found, _report("import cycles", [describe_cycle(c, package) for c in found])


def test_no_private_name_crosses_modules(package):
    violations = private_imports(package, ROOT)
    assert not violations, _report("private names used by another module (make them public)", violations)


def test_no_module_is_too_long(package):
    violations = long_modules(package, ROOT)
    assert not violations, _report(f"modules over {MAX_LINES} lines", violations)


def test_the_checker_sees_the_whole_package(package):
    assert {"alexnet_dsl", "alexnet_dsl.cli.main", "alexnet_dsl.backend.runtime"} <= set(package)


def test_checking_a_spec_imports_no_backend_and_no_torch():
    """`alexnet_dsl.check` and the pipeline stay light: no torch, triton or numpy, no backend, interop or cli
    (`dslc check` itself is tested in tests/cli/test_cli.py)."""
    code = (
        "import sys, alexnet_dsl\n"
        "from alexnet_dsl.analysis.pipeline import check_text\n"
        "assert alexnet_dsl.check('specs/alexnet.net').ok\n"
        "assert check_text(open('specs/vgg16.net').read()).ok\n"
        "heavy = ('torch', 'triton', 'numpy', 'alexnet_dsl.backend', 'alexnet_dsl.interop', 'alexnet_dsl.cli')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"checking a spec imported {r.stdout.strip()}"


# ---------------------------------------------------------------------------- the checker on synthetic packages


def make(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    """A package `pkg` with `files` (path -> source) and every folder's `__init__.py`."""
    for rel, text in {"__init__.py": "", **files}.items():
        path = tmp_path / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(tmp_path).parents[:-1]:
            (tmp_path / folder / "__init__.py").touch()
        path.write_text(text)
    return read_package(tmp_path / "pkg")


def test_a_clean_synthetic_package_passes(tmp_path):
    modules = make(
        tmp_path,
        {
            "source.py": "import os\n",
            "ir/nodes.py": "from pkg.source import os\n",
            "analysis/shapes.py": "from pkg import ir\nfrom ..ir import nodes\nfrom pkg._version import __version__\n",
            "_version.py": "__version__ = '1'\n",
            "kernels/k.py": "import torch\nfrom pkg.extras import needs\n",
            "tools/t.py": "import importlib\ndef f():\n    return importlib.import_module('pkg.ir.nodes')\n",
            "extras.py": "",
            "backend/runtime/ops.py": "import math\nimport torch\nfrom pkg.kernels import k\n",
            "cli/main.py": "from pkg.analysis import shapes\n",
            "__main__.py": "from pkg.cli.main import main\n",
        },
    )
    assert dependency_violations(modules, tmp_path) == []
    assert (
        cycles(modules) == []
        and private_imports(modules, tmp_path) == []
        and long_modules(modules, tmp_path) == []
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"ir/nodes.py": "from pkg.frontend import parse\n", "frontend/parse.py": ""}, "ir imports frontend"),
        (
            {"tools/fmt.py": "from pkg.backend.codegen import x\n", "backend/codegen.py": ""},
            "tools imports backend",
        ),
        (
            {"backend/b.py": "def f():\n    from pkg.tools import fmt\n", "tools/fmt.py": ""},
            "backend imports tools",
        ),
        (
            {
                "analysis/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.interop import x\n",
                "interop/x.py": "",
            },
            "analysis imports interop",
        ),
        ({"testing.py": "from pkg.cli import main\n", "cli/main.py": ""}, "testing imports cli"),
        ({"tools/t.py": "from pkg import compile\n"}, "imports the package root"),
        ({"frontend/f.py": "from .. import check\n"}, "imports the package root"),
        ({"kernels/k.py": "import lark\n"}, "kernels imports `lark`"),
        ({"kernels/k.py": "import numpy\n"}, "kernels imports `numpy`"),
        ({"kernels/k.py": "from pkg.ir import nodes\n", "ir/nodes.py": ""}, "kernels imports ir"),
        ({"backend/runtime/ops.py": "import numpy\n"}, "runtime imports `numpy`"),
        (
            {"backend/runtime/ops.py": "from pkg.backend import codegen\n", "backend/codegen.py": ""},
            "runtime imports backend",
        ),
        ({"helpers.py": ""}, "has no place in the layering"),
        (
            {"frontend/lower.py": "from pkg.analysis.shapes import x\n", "analysis/shapes.py": ""},
            "frontend imports analysis",
        ),
        ({"frontend/f.py": "from ..analysis import x\n", "analysis/x.py": ""}, "frontend imports analysis"),
        ({"interop/x.py": "from pkg.cli import main\n", "cli/main.py": ""}, "interop imports cli"),
        ({"tools/t.py": "import pkg.cli.main as m\n", "cli/main.py": ""}, "tools imports cli"),
        ({"source.py": "from pkg.ir import nodes\n", "ir/nodes.py": ""}, "base imports ir"),
        (
            {
                "frontend/f.py": "import importlib\ndef f():\n    importlib.import_module('pkg.analysis')\n",
                "analysis/x.py": "",
            },
            "frontend imports analysis",
        ),
        (
            {
                "frontend/f.py": "from importlib import import_module\nimport_module('.x', __package__)\n",
                "frontend/x.py": "",
                "ir/n.py": "import importlib\nimportlib.import_module('..frontend', __package__)\n",
            },
            "ir imports frontend",
        ),
        ({"ir/n.py": "__import__('pkg.frontend.parse')\n", "frontend/parse.py": ""}, "ir imports frontend"),
        (
            {"ir/n.py": "__import__('pkg.frontend', fromlist=['parse'])\n", "frontend/parse.py": ""},
            "ir imports frontend",
        ),
        ({"kernels/k.py": "def f():\n    __import__('lark')\n"}, "kernels imports `lark`"),
    ],
)
def test_each_dependency_rule_fails_on_a_synthetic_package(tmp_path, files, expected):
    violations = dependency_violations(make(tmp_path, files), tmp_path)
    assert len(violations) == 1 and expected in violations[0], violations


def test_a_cycle_is_reported_as_a_path(tmp_path):
    modules = make(
        tmp_path,
        {
            "frontend/a.py": "from pkg.frontend import b\n",
            "frontend/b.py": "def f():\n    from pkg.frontend.c import g\n",
            "frontend/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.frontend.a\n",
            "frontend/d.py": "from . import d\n",
            "frontend/e.py": "from pkg.frontend import a\n",  # on the way into a cycle, not in it
        },
    )
    found = cycles(modules)
    assert found == [
        ["pkg.frontend.a", "pkg.frontend.b", "pkg.frontend.c", "pkg.frontend.a"],
        ["pkg.frontend.d", "pkg.frontend.d"],
    ]
    assert describe_cycle(found[0], modules) == (
        "pkg.frontend.a (line 1) -> pkg.frontend.b (line 2, in a function) -> "
        "pkg.frontend.c (line 3, under TYPE_CHECKING) -> pkg.frontend.a"
    )


def test_private_names_across_modules_are_reported(tmp_path):
    modules = make(
        tmp_path,
        {
            "ir/a.py": "_x = 1\ndef _f(): pass\n__all__ = []\n",
            "ir/b.py": (
                "from pkg.ir.a import _x, __all__\nimport pkg.ir.a\nfrom pkg.ir import a as mod\n"
                "y = pkg.ir.a._f\nz = mod._f()\nw = mod.__all__\n"
            ),
            "ir/c.py": "import os\n_own = os._exit\nv = _own\n",  # its own and outside names are fine
        },
    )
    violations = private_imports(modules, tmp_path)
    assert [v.split(": ", 1)[1] for v in violations] == [
        "`pkg.ir.a._x` is private",
        "`pkg.ir.a._f` is private",
        "`pkg.ir.a._f` is private",
    ]
    assert violations[0].startswith(str(Path("pkg", "ir", "b.py:1")))


def test_private_modules_imported_by_another_module_are_reported(tmp_path):
    modules = make(
        tmp_path,
        {
            "ir/_a.py": "from pkg.ir import b\n",  # a private module importing others is fine
            "ir/b.py": "from pkg.ir import _a\n",
            "ir/c.py": "import pkg.ir._a as q\n",
            "ir/d.py": "from pkg.ir._a import x\nfrom ._a import y\n",
            "ir/e.py": "import importlib\nm = importlib.import_module('pkg.ir._a')\n",
            "ir/f.py": "from pkg._version import __version__\nfrom pkg import _version\n",  # the exception
            "_version.py": "__version__ = '1'\n",
        },
    )
    violations = private_imports(modules, tmp_path)
    assert [v.split(": ", 1)[1] for v in violations] == ["`pkg.ir._a` is a private module"] * 5
    assert [v.split(": ", 1)[0] for v in violations] == [
        str(Path("pkg", "ir", f)) for f in ("b.py:1", "c.py:1", "d.py:1", "d.py:2", "e.py:2")
    ]


def test_a_long_module_is_reported_unless_it_is_a_triton_kernel_file(tmp_path):
    body = "x = 1\n" * (MAX_LINES + 1)
    kernel = "import triton\n\n@triton.jit(do_not_specialize=[0])\ndef k(x):\n    pass\n" + body
    modules = make(
        tmp_path,
        {
            "tools/long.py": body,
            "tools/exact.py": "x = 1\n" * MAX_LINES,
            "kernels/kernel.py": kernel,
            "kernels/bare.py": kernel.replace("@triton.jit(do_not_specialize=[0])", "@triton.jit"),
            "kernels/reference.py": body,
            "backend/not_kernels.py": kernel,
        },
    )
    assert long_modules(modules, tmp_path) == [
        f"{Path('pkg', 'backend', 'not_kernels.py')}: {MAX_LINES + 6} lines (at most {MAX_LINES})",
        f"{Path('pkg', 'kernels', 'reference.py')}: {MAX_LINES + 1} lines (at most {MAX_LINES})",
        f"{Path('pkg', 'tools', 'long.py')}: {MAX_LINES + 1} lines (at most {MAX_LINES})",
    ]


def test_layout_stats_script_lists_every_folder():
    """scripts/layout_stats.py (the numbers of docs/architecture.md's layout) runs and counts every folder."""
    script = ROOT / "scripts" / "layout_stats.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    folders = {p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")} - {"."}
    for folder in folders:
        assert f"| `{folder}` |" in out, folder
