"""Files that readers never see half-written: one home for atomic, durable writes (every package uses it)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def fsync_file(path: Path) -> None:
    """Ask the OS to put ``path`` on disk (so a power cut after a commit keeps it)."""
    with contextlib.suppress(OSError), open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Put a folder's entries on disk (a new or renamed file survives a power cut); a no-op where unsupported."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:  # pragma: no cover - Windows
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` so that readers see the old or the new file, never half of one.

    Write to a temporary file in the same folder, fsync, then ``os.replace``
    (atomic on POSIX and Windows). ``durable=False`` skips the fsync (a few
    ms): for files that can be rebuilt, a power cut may then leave them empty.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it the mode open() would
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_json(path: Path, data: Any, *, indent: int | None = 1, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent, default=_json_default), durable=durable)


def _json_default(obj: Any) -> Any:
    import numpy as np  # numpy values (counts, metrics) written as plain JSON

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
