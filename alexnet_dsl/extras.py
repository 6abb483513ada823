"""Optional dependencies: which extra of pyproject.toml brings each, and the one line said when one is missing.

`dslc check` needs only lark; everything else is an extra. A missing one is a user's setup, not a bug: every
command and API entry point says it in one line that names the exact `pip install`, never a traceback.

    >>> str(MissingExtra("`dslc export`", ["torch", "onnx"]))
    "`dslc export` needs torch and onnx, which are not installed: pip install 'alexnet-dsl[torch,onnx]'"
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterable, Iterator

# top-level module -> the extra that installs it (pyproject.toml's [project.optional-dependencies])
EXTRA_OF = {
    "torch": "torch",
    "numpy": "torch",
    "triton": "triton",
    "onnx": "onnx",
    "onnxscript": "onnx",
    "onnxruntime": "onnx",
    "pygments": "highlight",
    "hypothesis": "test",
}
_ORDER = list(dict.fromkeys(EXTRA_OF.values()))

# ONNX export: torch for the module, onnx to check the model, onnxscript for torch's exporter
EXPORT_NEEDS = ("torch", "onnx", "onnxscript")


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message is one line ending in the `pip install` to run.

    A ModuleNotFoundError, so code that already guards an optional import with `except ImportError` keeps working.
    """

    def __init__(self, what: str, modules: Iterable[str]) -> None:
        self.modules = tuple(dict.fromkeys(modules))
        assert self.modules and all(m in EXTRA_OF for m in self.modules), self.modules
        self.extras = tuple(sorted({EXTRA_OF[m] for m in self.modules}, key=_ORDER.index))
        names = (
            " and ".join(self.modules)
            if len(self.modules) <= 2
            else (", ".join(self.modules[:-1]) + f" and {self.modules[-1]}")
        )
        verb = "is" if len(self.modules) == 1 else "are"
        super().__init__(
            f"{what} needs {names}, which {verb} not installed: "
            f"pip install 'alexnet-dsl[{','.join(self.extras)}]'",
            name=self.modules[0],
        )


def optional_module(error: ModuleNotFoundError) -> str | None:
    """The optional dependency whose absence `error` reports (`torch` for `torch.nn`), or None for any other module."""
    top = (error.name or "").partition(".")[0]
    return top if top in EXTRA_OF else None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the name, or a half-imported module
        return False


def require(*modules: str, what: str) -> None:
    """Raise MissingExtra naming every one of `modules` that is not installed (without importing any)."""
    missing = [m for m in modules if not _installed(m)]
    if missing:
        raise MissingExtra(what, missing)


@contextlib.contextmanager
def needs(what: str) -> Iterator[None]:
    """Inside the block, an optional dependency that fails to import becomes MissingExtra (other errors pass)."""
    try:
        yield
    except MissingExtra:
        raise
    except ModuleNotFoundError as e:
        module = optional_module(e)
        if module is None:
            raise
        raise MissingExtra(what, [module]) from None
