"""Small helpers shared by the data modules: atomic files, deferred signals, versions."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as md
import os
import platform
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

#: Distributions whose versions every dataset records (reproducibility).
RECORDED_PACKAGES: tuple[str, ...] = ("cliprt", "gymnasium", "numpy", "mujoco", "minari", "h5py", "pillow", "torch")


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`RECORDED_PACKAGES` (and Python)."""
    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


@contextlib.contextmanager
def deferred_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Hold Ctrl-C / SIGTERM until the block ends, then deliver them.

    Used around the few milliseconds that append a finished episode to disk, so
    that an impatient Ctrl-C never tears a write: the episode is committed, and
    the interrupt arrives right after. Only the main thread can own signal
    handlers; elsewhere this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []
    previous: dict[int, Any] = {}

    def _hold(signum: int, frame: Any) -> None:
        received.append((signum, frame))

    for sig in signals:
        with contextlib.suppress(ValueError, OSError):  # exotic platforms lack a signal
            previous[sig] = signal.signal(sig, _hold)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum, frame in received:
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` (PEP 562): ``exports[name]`` is imported on first use of ``name``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
