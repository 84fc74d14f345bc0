"""The table of registered environments: plain data, imported without mujoco or torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimTaskEntry:
    name: str  # used in the id: CLIPRT-UR5Sim-<name>-v0
    task: str  # "module:Class"
    max_steps: int
    summary: str

    @property
    def env_id(self) -> str:
        return f"CLIPRT-UR5Sim-{self.name}-v0"


SIM_TASKS: tuple[SimTaskEntry, ...] = (
    SimTaskEntry(
        "Pick", "cliprt_envs.tasks.pick:PickTask", 40, "pick up the named object (cubes and cylinders of several colours)"
    ),
)

SIM_ENTRY_POINT = "cliprt_envs.sim.make:make_sim_env"
REAL_UR5_ID = "CLIPRT-UR5-v0"


def sim_task_entry(name: str) -> SimTaskEntry:
    for entry in SIM_TASKS:
        if entry.name.lower() == name.lower() or entry.env_id == name:
            return entry
    names = ", ".join(e.name for e in SIM_TASKS)
    raise ValueError(f"unknown sim task {name!r}; known tasks: {names}")
