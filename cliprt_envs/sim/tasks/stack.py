"""Stack (Novel): stack the named cube on top of the block of the named colour.

Two cubes and two wide, flat blocks (3 cm tall) lie on the table. Success:
the named cube rests on the named block (its bottom within a few millimetres
of the block's top, its centre within 2.5 cm of the block's centre, tilted
less than 20 degrees), the block still on the table, and the fingers off the
cube. Placing on a raised, bounded surface rather than the table is the
skill the Common tasks do not need.

The expert picks the cube up, carries it clear of everything over the block,
lowers it until it nearly touches, lets go and lifts the fingers away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import SceneObject
from cliprt_envs.sim.tasks.base import (
    COLOURS,
    Item,
    SimTask,
    bottom_height,
    cube,
    finger_contact,
    sample_positions,
    shaped_reward,
    tilt_angle,
    top_height,
)
from cliprt_envs.sim.tasks.expert import (
    approach_and_grasp,
    axis_step,
    commanded_open,
    gripper_motion,
    holding,
    step_toward,
    upright_first,
)

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

BLOCK_HALF = (0.035, 0.035, 0.015)
#: The cube's centre this close (metres, horizontally) to the block's counts as on it.
ON_BLOCK = 0.025
#: The cube's bottom within this band (metres) of the block's top counts as resting on it.
REST_BAND = (-0.005, 0.008)
UPRIGHT = np.radians(20.0)
#: Clearance of the carried cube's bottom over the table (the tallest thing is a 4 cm cube).
CARRY = 0.075
#: The carried cube is let go once its bottom is this close above the block's top.
RELEASE = 0.01


def block(colour: str) -> Item:
    return Item(colour, "block", SceneObject(f"{colour}_block", "box", BLOCK_HALF, COLOURS[colour], 0.15))


class StackTask(SimTask):
    name = "Stack"
    task_set = "novel"
    max_steps = 50
    summary = "stack the named cube on top of the block of the named colour"
    templates = (
        "stack the {target} on the {base}",
        "stack the {target} on top of the {base}",
        "make a tower by stacking the {target} on the {base}",
        "balance the {target} on top of the {base}",
        "build a stack with the {target} on top of the {base}",
    )
    heldout_templates = (
        "pile the {target} on top of the {base}",
        "i want the {target} sitting on the {base}",
    )
    aux_size = 1  # index (in self.items) of the block to stack on

    def make_items(self) -> tuple[Item, ...]:
        return (cube("red"), cube("yellow"), block("blue"), block("green"))

    @property
    def base_item(self) -> Item:
        return self.items[int(self.aux[0])]

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        xy = sample_positions(rng, len(self.items), (0.36, 0.64), (-0.24, 0.24), 0.11)
        self.place_items(backend, xy, rng)
        self.target = int(rng.choice([k for k, i in enumerate(self.items) if i.noun == "cube"]))
        self.aux = np.array([float(rng.choice([k for k, i in enumerate(self.items) if i.noun == "block"]))])
        self.goal = np.zeros(3)
        return {"target": self.target_item.label, "base": self.base_item.label}

    # -- predicates -------------------------------------------------------------
    def _offset(self, backend: MujocoUR5Backend) -> np.ndarray:
        """Horizontal vector from the cube's centre to the block's centre (z = 0)."""
        off = backend.object_position(self.base_item.obj.name) - backend.object_position(self.target_item.obj.name)
        off[2] = 0.0
        return off

    def _gap(self, backend: MujocoUR5Backend) -> float:
        """Height of the cube's bottom over the block's top."""
        return bottom_height(backend, self.target_item.obj) - top_height(backend, self.base_item.obj)

    def stacked(self, backend: MujocoUR5Backend) -> bool:
        """The cube rests on the block, which stands on the table (whoever touches the cube)."""
        gap = self._gap(backend)
        return bool(
            np.linalg.norm(self._offset(backend)) <= ON_BLOCK
            and REST_BAND[0] <= gap <= REST_BAND[1]
            and tilt_angle(backend, self.target_item.obj) < UPRIGHT
            and bottom_height(backend, self.base_item.obj) < 0.01
        )

    def success(self, backend: MujocoUR5Backend) -> bool:
        return self.stacked(backend) and not finger_contact(backend, self.target_item.obj.name)

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        name = self.target_item.obj.name
        reach = float(np.linalg.norm(backend.tcp_pose()[0] - backend.object_position(name)))
        transport = 1.0 - np.tanh(5.0 * float(np.linalg.norm(self._offset(backend))))
        lowered = 1.0 - np.tanh(10.0 * abs(self._gap(backend)))
        held = 0.2 if backend.grasping(name) else 0.0
        return shaped_reward(reach, 0.5 * transport + 0.3 * transport * lowered + held)

    # -- expert -----------------------------------------------------------------
    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        item = self.target_item
        if holding(backend, item):
            return self._carry_and_release(backend, vocabulary)
        if self.stacked(backend):  # let go, then lift the fingers clear
            if not commanded_open(backend):
                return gripper_motion(vocabulary, open_=True)
            return axis_step(vocabulary, "z", 0.05)
        return approach_and_grasp(backend, vocabulary, item)

    def _carry_and_release(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        bottom = bottom_height(backend, self.target_item.obj)
        offset = self._offset(backend)
        gap = self._gap(backend)
        off = float(np.linalg.norm(offset[:2]))
        if off > 0.01:
            # Lift before carrying, a little higher than needed so one motion does it; a small
            # correction over the block is made at the height the cube is.
            if bottom < CARRY and (off > 0.02 or gap < 0.005):
                return axis_step(vocabulary, "z", CARRY + 0.02 - bottom)
            motion = step_toward(vocabulary, offset, ("x", "y"), tolerance=0.006)
            if motion is not None:
                return motion
        if gap > RELEASE:
            return axis_step(vocabulary, "z", -(gap - 0.004))
        return gripper_motion(vocabulary, open_=True)
