"""PointTo: point at the named object among look-alikes.

Pointing is a pose held with the gripper closed (the "pointing" gesture): the
fingertips within 3 cm horizontally of the object's centre and 1.5 to 7 cm
above its top, without touching anything. The distractors share a colour or a
shape with the target, so only the whole phrase ("red cylinder") identifies it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.tasks.base import (
    Item,
    SimTask,
    cube,
    cylinder,
    finger_contact,
    sample_positions,
    shaped_reward,
    top_height,
)
from cliprt_envs.sim.tasks.expert import commanded_open, go_to, gripper_motion, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

#: Horizontal distance (metres) of the fingertips from the object's centre.
POINT_RADIUS = 0.03
#: Fingertip height above the object's top: allowed band and the expert's aim.
POINT_ABOVE = (0.015, 0.07)
POINT_AIM = 0.04
#: Gripper opening below which the fingers count as closed (the gesture).
CLOSED = 0.3


class PointToTask(SimTask):
    name = "PointTo"
    max_steps = 30
    summary = "point at the named object (closed gripper held just above it)"
    templates = (
        "point at the {target}",
        "point to the {target}",
        "show me the {target}",
        "point your gripper at the {target}",
        "which one is the {target}? point at it",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "aim the gripper at the {target}",
        "indicate the {target} with the gripper",
    )

    def make_items(self) -> tuple[Item, ...]:
        return (cube("red"), cylinder("red"), cube("blue"), cylinder("blue"), cube("green"))

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        xy = sample_positions(rng, len(self.items), (0.36, 0.64), (-0.24, 0.24), 0.1)
        self.place_items(backend, xy, rng)
        self.target = int(rng.integers(len(self.items)))
        self.goal = np.zeros(3)
        return {"target": self.target_item.label}

    def _aim(self, backend: MujocoUR5Backend) -> np.ndarray:
        obj = self.target_item.obj
        pos = backend.object_position(obj.name)
        return np.array([pos[0], pos[1], top_height(backend, obj) + POINT_AIM])

    def pointing(self, backend: MujocoUR5Backend) -> bool:
        """The fingertips are in the pointing region above the target (gripper state aside)."""
        obj = self.target_item.obj
        tcp = backend.tcp_pose()[0]
        pos = backend.object_position(obj.name)
        above = tcp[2] - top_height(backend, obj)
        return bool(np.linalg.norm(tcp[:2] - pos[:2]) <= POINT_RADIUS and POINT_ABOVE[0] <= above <= POINT_ABOVE[1])

    def success(self, backend: MujocoUR5Backend) -> bool:
        return (
            self.pointing(backend)
            and backend.gripper_opening() < CLOSED
            and not finger_contact(backend, self.target_item.obj.name)
        )

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        dist = float(np.linalg.norm(backend.tcp_pose()[0] - self._aim(backend)))
        gesture = 1.0 if self.pointing(backend) and backend.gripper_opening() < CLOSED else 0.0
        return shaped_reward(dist, gesture, reach_weight=0.8)

    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        tcp = backend.tcp_pose()[0]
        aim = self._aim(backend)
        if not commanded_open(backend) and backend.gripper_opening() >= CLOSED:
            return gripper_motion(vocabulary, open_=True)  # closed on something: let go first
        motion = go_to(vocabulary, tcp, aim, safe_height=aim[2] + 0.02)
        if motion is not None and not (self.pointing(backend) and abs(tcp[2] - aim[2]) < 0.015):
            return motion
        return gripper_motion(vocabulary, open_=False)
