"""The package's public functions keep working however the package's modules are imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_check_is_callable_again_after_every_submodule_is_imported():
    # `alexnet_dsl.check()` was replaced by the submodule `alexnet_dsl.check` as soon as anything imported
    # it (compile() did), so the second call raised "'module' object is not callable". A fresh process
    # sees the package as a user does; every submodule is imported, then each public function is called.
    code = textwrap.dedent(
        """
        import importlib, pkgutil
        import alexnet_dsl

        spec = "network T(x: [N, 4]) -> [N, 2] {\\n    linear(2)\\n}\\n"
        first = alexnet_dsl.check(spec)
        alexnet_dsl.compile(spec)
        for info in pkgutil.walk_packages(alexnet_dsl.__path__, "alexnet_dsl."):
            if info.name.split(".")[-1] in {"__main__"}:
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass  # an optional dependency this machine lacks
        for name in alexnet_dsl.__all__:
            assert not isinstance(getattr(alexnet_dsl, name), type(alexnet_dsl)), name
        second = alexnet_dsl.check(spec)
        assert first.ok and second.ok
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
