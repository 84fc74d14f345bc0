"""The LIBERO suites we register, and the official evaluation numbers (plain data, no LIBERO import).

The step limits, settle steps and trials are those of the OpenVLA / OpenVLA-OFT
``run_libero_eval.py`` protocol that the CLIP-RT authors also use: each limit is
the longest training demonstration of the suite plus a margin, counted in
control steps (20 Hz), after 10 settle steps of "do nothing, gripper open".
"""

from __future__ import annotations

from dataclasses import dataclass

LIBERO_ENTRY_POINT = "cliprt_envs.libero.make:make_libero_env"


@dataclass(frozen=True)
class LiberoSuite:
    """One LIBERO task suite: our short name, LIBERO's benchmark name and its official step limit."""

    name: str  # "spatial", "object", "goal", "10", "90"
    benchmark: str  # LIBERO's name: "libero_spatial", ...
    max_control_steps: int  # official limit, control steps after the settle steps
    n_tasks: int
    title: str

    @property
    def env_id(self) -> str:
        """The suite's id; ``gym.make(env_id, task_index=k)`` picks a task (task 0 by default)."""
        return f"CLIPRT-LIBERO-{self.title}-v0"

    def task_env_id(self, task_index: int) -> str:
        """The id of one task (``CLIPRT-LIBERO-Spatial-Task3-v0``), for benchmark suites that list tasks by id."""
        if not 0 <= task_index < self.n_tasks:
            raise ValueError(f"LIBERO {self.name} has tasks 0..{self.n_tasks - 1}, got {task_index}")
        return f"CLIPRT-LIBERO-{self.title}-Task{task_index}-v0"

    def task_env_ids(self) -> tuple[str, ...]:
        return tuple(self.task_env_id(k) for k in range(self.n_tasks))


LIBERO_SUITES: tuple[LiberoSuite, ...] = (
    LiberoSuite("spatial", "libero_spatial", 220, 10, "Spatial"),
    LiberoSuite("object", "libero_object", 280, 10, "Object"),
    LiberoSuite("goal", "libero_goal", 300, 10, "Goal"),
    LiberoSuite("10", "libero_10", 520, 10, "10"),
    LiberoSuite("90", "libero_90", 400, 90, "90"),
)

#: Settle steps of ``[0, 0, 0, 0, 0, 0, -1]`` after each reset (objects fall onto the table).
SETTLE_STEPS = 10
#: Episodes per task in the official protocol, one per fixed initial state.
OFFICIAL_TRIALS = 50
#: Render size of the official protocol (the policy then resizes).
OFFICIAL_RENDER_SIZE = 256


def libero_suite(name: str) -> LiberoSuite:
    """A suite by our name (``"spatial"``), LIBERO's (``"libero_spatial"``) or its env id."""
    key = str(name).lower()
    for suite in LIBERO_SUITES:
        if key in (suite.name, suite.benchmark, suite.title.lower(), suite.env_id.lower()):
            return suite
    names = ", ".join(s.name for s in LIBERO_SUITES)
    raise ValueError(f"unknown LIBERO suite {name!r}; choose from {names}")


def libero_env_ids() -> tuple[str, ...]:
    return tuple(s.env_id for s in LIBERO_SUITES)
