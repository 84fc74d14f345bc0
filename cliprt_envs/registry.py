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
    SimTaskEntry(
        "PointTo", "cliprt_envs.tasks.point:PointToTask", 30, "point at the named object (closed gripper held just above it)"
    ),
    SimTaskEntry("Place", "cliprt_envs.tasks.place:PlaceTask", 50, "put the named object on the plate of the named colour"),
    SimTaskEntry("Push", "cliprt_envs.tasks.push:PushTask", 40, "push the named object forward by 10 cm or more"),
    SimTaskEntry("Pull", "cliprt_envs.tasks.pull:PullTask", 40, "pull the named object toward the robot by 10 cm or more"),
    SimTaskEntry(
        "Slide", "cliprt_envs.tasks.slide:SlideTask", 40, "slide the named object left or right by 10 cm, not lifting it"
    ),
    SimTaskEntry(
        "KnockOver", "cliprt_envs.tasks.knock_over:KnockOverTask", 30, "knock over the bottle of the named colour, only that one"
    ),
    SimTaskEntry(
        "OpenDrawer", "cliprt_envs.tasks.open_drawer:OpenDrawerTask", 30, "open the drawer of the named colour by 8 cm or more"
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
