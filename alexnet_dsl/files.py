"""Writing files safely: a temporary file in the same directory, then an atomic rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(
    path: Path, data: str | bytes | Callable[[str], None], *, inputs: tuple[Path, ...] = ()
) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part.

    `data` is the text or bytes to write, or a function that writes the file at the path it is
    given (for writers that open the file themselves, such as `onnx.save_model`); what it writes
    beside that file is its own affair. On any failure the temporary file is removed and an
    existing `path` is untouched. Refuses to write over any of `inputs` (dslc never overwrites the
    spec it reads by accident).
    """
    target = path.resolve()
    for source in inputs:
        with contextlib.suppress(FileNotFoundError):
            if source.resolve() == target or (target.exists() and os.path.samefile(source, target)):
                raise ValueError(f"refusing to write over the input `{source}`")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"no directory `{target.parent}` for `{path}`")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "r+b") as f:
            if callable(data):
                data(tmp)  # through its own handle: the fsync below flushes the file, whoever wrote it
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
