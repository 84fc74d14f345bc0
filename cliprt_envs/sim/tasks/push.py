"""Push: push the named object forward, away from the robot, by at least 10 cm.

The same machinery serves every "move it along the table" task: :class:`PushTask`
is parametrised by the directions it may ask for and where the target may start,
and Pull and Slide subclass it. The object must stay on the table (pushed, not
carried) and end clear of the fingers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import TABLE_TOP_Z
from cliprt_envs.sim.tasks.base import (
    Item,
    SimTask,
    bottom_height,
    cube,
    cylinder,
    finger_contact,
    outside_corridor,
    sample_positions,
    shaped_reward,
)
from cliprt_envs.sim.tasks.expert import push_expert, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

#: How far (metres, along the asked direction) the object must travel.
PUSH_DISTANCE = 0.10
#: The expert aims this much further, so that settling does not leave it short.
OVERSHOOT = 0.015
#: Tool-centre height while pushing: fingertips just above the table.
PUSH_HEIGHT = TABLE_TOP_Z + 0.015
#: Tool-centre height for travelling over the objects (the tallest is 6 cm).
SAFE_HEIGHT = TABLE_TOP_Z + 0.11
#: Everything on the table lies within these bounds (metres, robot frame).
TABLE_X = (0.33, 0.68)
TABLE_Y = (-0.27, 0.27)


class PushTask(SimTask):
    name = "Push"
    max_steps = 40
    summary = "push the named object forward by 10 cm or more"
    templates = (
        "push the {target} {direction}",
        "push the {target} {direction} by about 10 centimeters",
        "shove the {target} {direction}",
        "push the {target} {direction} along the table",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "nudge the {target} {direction}",
        "give the {target} a push {direction}",
    )
    aux_size = 2  # the push direction, a horizontal unit vector
    #: (words, direction, x range, y range of the target's start)
    directions: tuple[tuple[str, tuple[float, float], tuple[float, float], tuple[float, float]], ...] = (
        ("forward", (1.0, 0.0), (0.36, 0.48), (-0.2, 0.2)),
        ("away from the robot", (1.0, 0.0), (0.36, 0.48), (-0.2, 0.2)),
    )

    def make_items(self) -> tuple[Item, ...]:
        return (cube("red"), cube("blue"), cylinder("green"), cube("yellow"))

    # -- scene ----------------------------------------------------------------
    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        self.target = int(rng.integers(len(self.items)))
        words, direction, x_range, y_range = self.directions[int(rng.integers(len(self.directions)))]
        d = np.array(direction, dtype=np.float64)
        start = np.array([rng.uniform(*x_range), rng.uniform(*y_range)])
        # Distractors stay off the path: the approach behind the target and the 10 cm ahead.
        clear = outside_corridor(start, d, behind=0.13, ahead=PUSH_DISTANCE + 0.12, half_width=0.08)
        others = sample_positions(rng, len(self.items) - 1, TABLE_X, TABLE_Y, 0.09, avoid=(start,), accept=clear)
        xy = others[: self.target] + [start] + others[self.target :]
        self.place_items(backend, xy, rng)
        z = TABLE_TOP_Z + self.target_item.obj.half_height
        self.goal = np.array([start[0], start[1], z])  # where the target started
        self.aux = d.copy()
        return {"target": self.target_item.label, "direction": words}

    # -- progress ---------------------------------------------------------------
    @property
    def direction(self) -> np.ndarray:
        return np.array([self.aux[0], self.aux[1], 0.0])

    def progress(self, backend: MujocoUR5Backend) -> float:
        """Distance (metres) the target has moved along the asked direction."""
        moved = backend.object_position(self.target_item.obj.name) - self.goal
        return float(moved @ self.direction)

    def success(self, backend: MujocoUR5Backend) -> bool:
        obj = self.target_item.obj
        return (
            self.progress(backend) >= PUSH_DISTANCE
            and bottom_height(backend, obj) < 0.01
            and not finger_contact(backend, obj.name)
        )

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        pos = backend.object_position(self.target_item.obj.name)
        reach = np.linalg.norm(backend.tcp_pose()[0] - pos) - 0.04  # touching counts as reached
        return shaped_reward(float(reach), self.progress(backend) / PUSH_DISTANCE)

    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        remaining = PUSH_DISTANCE + OVERSHOOT - self.progress(backend)
        return push_expert(
            backend,
            vocabulary,
            self.target_item.obj,
            self.direction,
            height=PUSH_HEIGHT,
            remaining=remaining,
            safe_height=SAFE_HEIGHT,
        )
