"""Place: put the named object on the named plate.

Plates are flat coloured discs (visual fixtures, they do not collide) in
colours that no object has. Success: the object rests on the table within
4 cm of the plate's centre and neither finger touches it (it was let go).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import TABLE_TOP_Z, SceneFixture, SceneSpec
from cliprt_envs.sim.tasks.base import (
    COLOURS,
    Item,
    SimTask,
    bottom_height,
    cube,
    cylinder,
    finger_contact,
    sample_positions,
    shaped_reward,
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

PLATE_RADIUS = 0.05
PLATE_COLOURS = ("red", "green", "blue")
#: The object's centre this close (metres, horizontally) to the plate's centre counts as on it.
ON_PLATE = 0.04
#: Clearance of the carried object's bottom over the table (the tallest object is 6 cm).
CARRY_CLEARANCE = 0.085
#: The carried object is let go once its bottom is this low.
RELEASE_HEIGHT = 0.012


class PlaceTask(SimTask):
    name = "Place"
    max_steps = 50
    summary = "put the named object on the plate of the named colour"
    templates = (
        "put the {target} on the {plate}",
        "place the {target} on the {plate}",
        "move the {target} onto the {plate}",
        "pick up the {target} and put it on the {plate}",
        "set the {target} down on the {plate}",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "rest the {target} on top of the {plate}",
        "i want the {target} resting on the {plate}",
    )
    aux_size = 1  # index of the plate in PLATE_COLOURS

    def make_items(self) -> tuple[Item, ...]:
        return (cube("yellow"), cube("purple"), cylinder("orange"))

    def scene(self) -> SceneSpec:
        plates = tuple(SceneFixture(f"{c}_plate", "cylinder", (PLATE_RADIUS, 0.001), COLOURS[c]) for c in PLATE_COLOURS)
        return SceneSpec(objects=tuple(i.obj for i in self.items), fixtures=plates, image_size=self.image_size)

    @property
    def plate_label(self) -> str:
        return f"{PLATE_COLOURS[int(self.aux[0])]} plate"

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        plates = sample_positions(rng, len(PLATE_COLOURS), (0.36, 0.64), (-0.25, 0.25), 2 * PLATE_RADIUS + 0.04)
        for colour, p in zip(PLATE_COLOURS, plates):
            backend.set_object_pose(f"{colour}_plate", np.array([p[0], p[1], TABLE_TOP_Z + 0.001]))

        def off_plates(p: np.ndarray) -> bool:
            return all(np.linalg.norm(p - q) >= PLATE_RADIUS + 0.045 for q in plates)

        xy = sample_positions(rng, len(self.items), (0.34, 0.66), (-0.27, 0.27), 0.09, accept=off_plates)
        self.place_items(backend, xy, rng)
        self.target = int(rng.integers(len(self.items)))
        plate = int(rng.integers(len(PLATE_COLOURS)))
        self.aux = np.array([float(plate)])
        self.goal = np.array([plates[plate][0], plates[plate][1], TABLE_TOP_Z])
        return {"target": self.target_item.label, "plate": self.plate_label}

    # -- predicates -------------------------------------------------------------
    def _offset(self, backend: MujocoUR5Backend) -> np.ndarray:
        """Horizontal vector from the object to the plate's centre (z = 0)."""
        off = self.goal - backend.object_position(self.target_item.obj.name)
        off[2] = 0.0
        return off

    def on_plate(self, backend: MujocoUR5Backend) -> bool:
        obj = self.target_item.obj
        return bool(np.linalg.norm(self._offset(backend)) <= ON_PLATE and bottom_height(backend, obj) < 0.01)

    def success(self, backend: MujocoUR5Backend) -> bool:
        return self.on_plate(backend) and not finger_contact(backend, self.target_item.obj.name)

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        name = self.target_item.obj.name
        reach = float(np.linalg.norm(backend.tcp_pose()[0] - backend.object_position(name)))
        transport = 1.0 - np.tanh(5.0 * float(np.linalg.norm(self._offset(backend))))
        grasped = 0.2 if backend.grasping(name) else 0.0
        return shaped_reward(reach, 0.8 * transport + grasped)

    # -- expert -----------------------------------------------------------------
    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        item = self.target_item
        if holding(backend, item):
            bottom = bottom_height(backend, item.obj)
            offset = self._offset(backend)
            if float(np.linalg.norm(offset[:2])) > 0.02 and bottom < CARRY_CLEARANCE:
                # Lift before carrying, a little higher than needed so one motion does it.
                return axis_step(vocabulary, "z", CARRY_CLEARANCE + 0.02 - bottom)
            motion = step_toward(vocabulary, offset, ("x", "y"), tolerance=0.008)
            if motion is not None:
                return motion
            if bottom > RELEASE_HEIGHT:
                return axis_step(vocabulary, "z", -(bottom - 0.004))
            return gripper_motion(vocabulary, open_=True)
        if self.on_plate(backend):  # let go, then lift the fingers clear
            if not commanded_open(backend):
                return gripper_motion(vocabulary, open_=True)
            return axis_step(vocabulary, "z", 0.05)
        return approach_and_grasp(backend, vocabulary, item)
