"""Pick: lift the named object off the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import TABLE_TOP_Z
from cliprt_envs.sim.tasks.base import Item, SimTask, bottom_height, cube, cylinder, sample_positions
from cliprt_envs.sim.tasks.expert import pick_expert, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

LIFT_HEIGHT = 0.06  # the object's bottom this far above the table counts as picked


class PickTask(SimTask):
    name = "Pick"
    max_steps = 40
    summary = "pick up the named object (cubes and cylinders of several colours)"
    templates = (
        "pick up the {target}",
        "lift the {target}",
        "grab the {target} and lift it",
        "pick the {target} up off the table",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "raise the {target} into the air",
        "could you take hold of the {target} and hold it up",
    )

    def make_items(self) -> tuple[Item, ...]:
        return (cube("red"), cube("blue"), cylinder("green"), cylinder("yellow"))

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        xy = sample_positions(rng, len(self.items), (0.38, 0.62), (-0.2, 0.2), 0.09)
        self.place_items(backend, xy, rng)
        self.target = int(rng.integers(len(self.items)))
        self.goal = np.zeros(3)
        return {"target": self.target_item.label}

    def _bottom(self, backend: MujocoUR5Backend) -> float:
        return bottom_height(backend, self.target_item.obj)

    def success(self, backend: MujocoUR5Backend) -> bool:
        return self._bottom(backend) > LIFT_HEIGHT and backend.grasping(self.target_item.obj.name)

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        name = self.target_item.obj.name
        dist = np.linalg.norm(backend.tcp_pose()[0] - backend.object_position(name))
        reach = 1.0 - np.tanh(5.0 * dist)
        grasp = 0.25 if backend.grasping(name) else 0.0
        lift = 0.25 * np.clip(self._bottom(backend) / LIFT_HEIGHT, 0.0, 1.0)
        return float(0.5 * reach + grasp + lift) * 0.99

    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        return pick_expert(backend, vocabulary, self.target_item, lift_to=TABLE_TOP_Z + 0.16)
