"""KnockOver: knock over the bottle of the named colour.

Bottles are tall standing cylinders (12 cm); success is the target's axis
tilted more than 60 degrees from the vertical while every other bottle still
stands (so sweeping the table clear does not count). The expert pushes it over,
away from the robot, with the closed fingers high on the bottle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import TABLE_TOP_Z
from cliprt_envs.sim.tasks.base import (
    Item,
    SimTask,
    cylinder,
    outside_corridor,
    sample_positions,
    shaped_reward,
    tilt_angle,
)
from cliprt_envs.sim.tasks.expert import push_expert, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

TIPPED = np.radians(60.0)
#: The other bottles must stay up (tilted less than this): knock over only the named one.
STANDING = np.radians(30.0)
BOTTLE_HALF_HEIGHT = 0.06
#: Tool-centre height for the push: well above the bottle's centre of mass.
KNOCK_HEIGHT = TABLE_TOP_Z + 0.085
SAFE_HEIGHT = TABLE_TOP_Z + 0.17
FORWARD = np.array([1.0, 0.0, 0.0])


def bottle(colour: str) -> Item:
    return cylinder(colour, radius=0.02, half_height=BOTTLE_HALF_HEIGHT, mass=0.08, noun="bottle")


class KnockOverTask(SimTask):
    name = "KnockOver"
    max_steps = 30
    summary = "knock over the bottle of the named colour, only that one"
    templates = (
        "knock over the {target}",
        "knock the {target} over",
        "tip over the {target}",
        "push the {target} over",
        "make the {target} fall over",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "topple the {target}",
        "flip the {target} onto its side",
    )

    def make_items(self) -> tuple[Item, ...]:
        return (bottle("red"), bottle("green"), bottle("blue"), bottle("yellow"))

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        self.target = int(rng.integers(len(self.items)))
        start = np.array([rng.uniform(0.4, 0.54), rng.uniform(-0.2, 0.2)])
        # The others stand off the path of the arm and of the falling bottle.
        clear = outside_corridor(start, FORWARD, behind=0.13, ahead=0.2, half_width=0.08)
        others = sample_positions(rng, len(self.items) - 1, (0.34, 0.66), (-0.26, 0.26), 0.09, avoid=(start,), accept=clear)
        self.place_items(backend, others[: self.target] + [start] + others[self.target :], rng)
        self.goal = np.array([start[0], start[1], TABLE_TOP_Z + BOTTLE_HALF_HEIGHT])
        return {"target": self.target_item.label}

    def others_standing(self, backend: MujocoUR5Backend) -> bool:
        return all(tilt_angle(backend, i.obj) < STANDING for k, i in enumerate(self.items) if k != self.target)

    def success(self, backend: MujocoUR5Backend) -> bool:
        return tilt_angle(backend, self.target_item.obj) > TIPPED and self.others_standing(backend)

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        obj = self.target_item.obj
        tcp = backend.tcp_pose()[0]
        aim = backend.object_position(obj.name) + np.array([0.0, 0.0, KNOCK_HEIGHT - self.goal[2]])
        return shaped_reward(float(np.linalg.norm(tcp - aim)) - 0.04, tilt_angle(backend, obj) / TIPPED)

    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        return push_expert(
            backend, vocabulary, self.target_item.obj, FORWARD, height=KNOCK_HEIGHT, remaining=0.05, safe_height=SAFE_HEIGHT
        )
