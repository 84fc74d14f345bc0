"""Robot-agnostic tasks (no MuJoCo here); the twin's tasks live in :mod:`cliprt_envs.sim.tasks`."""

from cliprt_envs.tasks.base import NoExpertError, Task

__all__ = ["NoExpertError", "Task"]
