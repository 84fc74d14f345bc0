"""The table of registered environments: plain data, imported without mujoco or torch.

Each task states its name, step limit and summary once, on its class; the
registry reads them from there. :data:`ENV_ENTRIES` is everything that
:func:`cliprt_envs._register` hands to Gymnasium, sim or not.

As in the CLIP-RT paper, the twin's tasks come in two sets (``task_set`` on
the class): :data:`COMMON_TASKS`, whose skills the pretraining corpus covers,
and :data:`NOVEL_TASKS` (hinged lids, stamps, toy cars, stacking), which
are held out of pretraining and learnt from a few demonstrations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cliprt_envs.libero.suites import LIBERO_ENTRY_POINT, LIBERO_SUITES
from cliprt_envs.sim.tasks.base import SimTask
from cliprt_envs.sim.tasks.close_laptop import CloseLaptopTask
from cliprt_envs.sim.tasks.knock_over import KnockOverTask
from cliprt_envs.sim.tasks.open_drawer import OpenDrawerTask
from cliprt_envs.sim.tasks.park_car import ParkCarTask
from cliprt_envs.sim.tasks.pick import PickTask
from cliprt_envs.sim.tasks.place import PlaceTask
from cliprt_envs.sim.tasks.point import PointToTask
from cliprt_envs.sim.tasks.pull import PullTask
from cliprt_envs.sim.tasks.push import PushTask
from cliprt_envs.sim.tasks.slide import SlideTask
from cliprt_envs.sim.tasks.stack import StackTask
from cliprt_envs.sim.tasks.stamp import StampTask

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
    def task_set(self) -> str:
        """``"common"`` or ``"novel"`` (see :data:`TASK_SETS`)."""
        return self.task_class.task_set

    @property
    def task(self) -> str:
        """The task class as an import string, ``"module:Class"``."""
        return f"{self.task_class.__module__}:{self.task_class.__qualname__}"

    @property
    def env_id(self) -> str:
        return f"CLIPRT-UR5Sim-{self.name}-v0"

    def env_entry(self) -> EnvEntry:
        line = f"MuJoCo UR5 twin, {self.task_set} task: {self.summary} (max {self.max_steps} steps)"
        return EnvEntry(self.env_id, SIM_ENTRY_POINT, self.max_steps, {"task": self.name}, line)


#: The two task sets, in the order ``cliprt envs`` lists them.
TASK_SETS: tuple[str, ...] = ("common", "novel")

SIM_TASKS: tuple[SimTaskEntry, ...] = tuple(
    SimTaskEntry(cls)
    for cls in (
        # Common
        PickTask,
        PointToTask,
        PlaceTask,
        PushTask,
        PullTask,
        SlideTask,
        KnockOverTask,
        OpenDrawerTask,
        # Novel
        CloseLaptopTask,
        ParkCarTask,
        StampTask,
        StackTask,
    )
)
COMMON_TASKS: tuple[SimTaskEntry, ...] = tuple(e for e in SIM_TASKS if e.task_set == "common")
NOVEL_TASKS: tuple[SimTaskEntry, ...] = tuple(e for e in SIM_TASKS if e.task_set == "novel")

#: Every id this package registers.
ENV_ENTRIES: tuple[EnvEntry, ...] = (
    *(e.env_entry() for e in SIM_TASKS),
    EnvEntry(
        REAL_UR5_ID,
        "cliprt_envs.ur5.make:make_ur5_env",
        summary="the real UR5 (ur_rtde + RealSense + Robotiq): gym.make(id, config='robot.yaml'), no step limit",
    ),
)

#: LIBERO's suites (``task_index=`` picks the task) and one id per task (for benchmark suites);
#: the step limit is the official one, in control steps.
LIBERO_ENTRIES: tuple[EnvEntry, ...] = tuple(
    EnvEntry(
        s.env_id,
        LIBERO_ENTRY_POINT,
        s.max_control_steps,
        {"suite": s.name},
        f"LIBERO {s.benchmark} ({s.n_tasks} tasks, task_index=0..{s.n_tasks - 1}; max {s.max_control_steps} control steps)",
    )
    for s in LIBERO_SUITES
) + tuple(
    EnvEntry(
        s.task_env_id(k),
        LIBERO_ENTRY_POINT,
        s.max_control_steps,
        {"suite": s.name, "task_index": k},
        f"LIBERO {s.benchmark} task {k}",
    )
    for s in LIBERO_SUITES
    for k in range(s.n_tasks)
)
ENV_ENTRIES = ENV_ENTRIES + LIBERO_ENTRIES


def sim_task_entry(name: str) -> SimTaskEntry:
    for entry in SIM_TASKS:
        if entry.name.lower() == name.lower() or entry.env_id == name:
            return entry
    names = ", ".join(e.name for e in SIM_TASKS)
    raise ValueError(f"unknown sim task {name!r}; known tasks: {names}")


def sim_tasks(task_set: str | None = None) -> tuple[SimTaskEntry, ...]:
    """The twin's tasks of one set (``"common"`` or ``"novel"``), or all of them for None."""
    if task_set is None:
        return SIM_TASKS
    if task_set not in TASK_SETS:
        raise ValueError(f"unknown task set {task_set!r}; choose from {', '.join(TASK_SETS)}")
    return COMMON_TASKS if task_set == "common" else NOVEL_TASKS


def sim_env_ids(task_set: str | None = None) -> tuple[str, ...]:
    """Gymnasium ids of the twin's tasks of one set (``"common"`` or ``"novel"``), or of all for None."""
    return tuple(e.env_id for e in sim_tasks(task_set))
