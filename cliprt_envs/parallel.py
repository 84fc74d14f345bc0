"""Starting env worker processes safely (vector envs, SB3's SubprocVecEnv).

Two traps, both met here:

- ``fork`` from a process that has rendered (owns an EGL/OSMesa context)
  leaves the child unable to render in-process (it would wait forever). Our
  cameras notice and render through a helper process instead
  (:mod:`cliprt_envs.sim.render_server`), which is correct but slower, so we
  use ``forkserver`` (a clean server process that forks workers) where
  available, else ``spawn``.
- ``forkserver`` and ``spawn`` workers re-import the user's ``__main__`` by
  path, re-running an unguarded script. Our workers need only importable
  functions of these packages, so :func:`main_module_hidden` hides the path
  while they start.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Modules the forkserver imports once, so each worker starts in milliseconds.
PRELOAD = ("cliprt_envs.sim.make",)


def safe_start_method() -> str:
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def prepare_context(method: str | None = None) -> str:
    """Validate ``method`` (default: :func:`safe_start_method`) and preload the forkserver."""
    method = method or safe_start_method()
    if method not in mp.get_all_start_methods():
        raise ValueError(f"start method must be one of {mp.get_all_start_methods()}, got {method!r}")
    if method == "forkserver":
        mp.get_context(method).set_forkserver_preload(list(PRELOAD))
    return method


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """While workers start, make ``__main__`` look like an interactive session."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    try:
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        yield
    finally:
        main.__dict__.pop("__file__", None)
        main.__dict__.update(saved)
