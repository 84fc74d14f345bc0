"""Run independent pieces of the main job side by side, one process each (``DemoConfig.jobs``)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def side_by_side(calls: Sequence[tuple[Callable[..., Any], tuple]], jobs: int) -> list[Any]:
    """``[fn(*args) for fn, args in calls]``, in up to ``jobs`` processes at once, started in the order given.

    Each ``fn`` must be a module-level function (it is sent to another
    process); the first error is raised here once the calls already running
    have ended, and calls not yet started are dropped. ``jobs`` 1 runs them
    here, one after another.
    """
    if jobs <= 1 or len(calls) <= 1:
        return [fn(*args) for fn, args in calls]
    from cliprt_envs.parallel import main_module_hidden, prepare_context

    ctx = mp.get_context(prepare_context())
    with ProcessPoolExecutor(max_workers=min(jobs, len(calls)), mp_context=ctx) as pool:
        with main_module_hidden():
            futures = [pool.submit(fn, *args) for fn, args in calls]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
