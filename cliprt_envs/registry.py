"""The table of registered environments: plain data, imported without mujoco or torch.

Each task states its name, step limit and summary once, on its class; the
registry reads them from there. :data:`ENV_ENTRIES` is everything that
:func:`cliprt_envs._register` hands to Gymnasium, sim or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cliprt_envs.sim.tasks.base import SimTask
from cliprt_envs.sim.tasks.knock_over import KnockOverTask
from cliprt_envs.sim.tasks.open_drawer import OpenDrawerTask
from cliprt_envs.sim.tasks.pick import PickTask
from cliprt_envs.sim.tasks.place import PlaceTask
from cliprt_envs.sim.tasks.point import PointToTask
from cliprt_envs.sim.tasks.pull import PullTask
from cliprt_envs.sim.tasks.push import PushTask
from cliprt_envs.sim.tasks.slide import SlideTask

SIM_ENTRY_POINT = "cliprt_envs.sim.make:make_sim_env"
REAL_UR5_ID = "CLIPRT-UR5-v0"


@dataclass(frozen=True)
class EnvEntry:
    """One Gymnasium id: what ``gym.register`` needs, and a line for ``cliprt envs``."""

    env_id: str
    entry_point: str  # "module:function"
    max_steps: int | None = None  # None: no TimeLimit (e.g. a real robot run by a person)
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    summary: str = ""  # the line ``cliprt envs`` prints


@dataclass(frozen=True)
class SimTaskEntry:
    """A MuJoCo twin task; its name, step limit and summary are read from the class."""

    task_class: type[SimTask]

    @property
    def name(self) -> str:  # used in the id: CLIPRT-UR5Sim-<name>-v0
        return self.task_class.name

    @property
    def max_steps(self) -> int:
        return self.task_class.max_steps

    @property
    def summary(self) -> str:
        return self.task_class.summary

    @property
    def task(self) -> str:
        """The task class as an import string, ``"module:Class"``."""
        return f"{self.task_class.__module__}:{self.task_class.__qualname__}"

    @property
    def env_id(self) -> str:
        return f"CLIPRT-UR5Sim-{self.name}-v0"

    def env_entry(self) -> EnvEntry:
        line = f"MuJoCo UR5 twin: {self.summary} (max {self.max_steps} steps)"
        return EnvEntry(self.env_id, SIM_ENTRY_POINT, self.max_steps, {"task": self.name}, line)


SIM_TASKS: tuple[SimTaskEntry, ...] = tuple(
    SimTaskEntry(cls) for cls in (PickTask, PointToTask, PlaceTask, PushTask, PullTask, SlideTask, KnockOverTask, OpenDrawerTask)
)

#: Every id this package registers. The real UR5 is one more line here once its
#: env exists: ``EnvEntry(REAL_UR5_ID, "cliprt_envs.real.make:make_real_env", summary="...")``.
ENV_ENTRIES: tuple[EnvEntry, ...] = tuple(e.env_entry() for e in SIM_TASKS)


def sim_task_entry(name: str) -> SimTaskEntry:
    for entry in SIM_TASKS:
        if entry.name.lower() == name.lower() or entry.env_id == name:
            return entry
    names = ", ".join(e.name for e in SIM_TASKS)
    raise ValueError(f"unknown sim task {name!r}; known tasks: {names}")
