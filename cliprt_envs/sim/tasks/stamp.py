"""Stamp (Novel): press the named stamp down on the mark of the named colour.

A stamp is a square pad with an upright handle (and a knob on top); two
stamps of different colours, a small cube and three coloured square marks
(flat, nothing collides with them) lie on the table. Success: the named
stamp, held in the gripper, pressed flat on the table (its pad's face down,
tilted less than 15 degrees) with the pad's centre within 2 cm of the mark's
centre. Unlike placing, the stamp is never let go.

The expert grips the handle just above the pad, lifts the stamp clear of
everything, carries it over the mark and presses it down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import TABLE_TOP_Z, CompoundObject, ObjectPart, SceneFixture, SceneSpec
from cliprt_envs.sim.tasks.base import (
    COLOURS,
    Item,
    SimTask,
    bottom_height,
    cube,
    sample_positions,
    shaped_reward,
    tilt_angle,
)
from cliprt_envs.sim.tasks.expert import (
    axis_step,
    commanded_open,
    go_to,
    gripper_motion,
    holding,
    step_toward,
    upright_first,
)

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

PAD_HALF = (0.022, 0.022, 0.008)
HANDLE = (0.012, 0.028)  # radius, half-length
STAMP_HEIGHT = 2 * PAD_HALF[2] + 2 * HANDLE[1] + 0.01  # to the top of the knob
MARK_HALF = 0.03
MARK_COLOURS = ("red", "green", "blue")
#: Pressed: the pad's face this close to the table, its centre this close to the mark's, this upright.
PRESSED = 0.004
ON_MARK = 0.02
UPRIGHT = np.radians(15.0)
#: The fingertips grip the handle this far above the pad's face.
GRIP_ABOVE = 2 * PAD_HALF[2] + 0.01
#: The carried stamp's face is lifted this high above the table (over the other stamp's knob).
CARRY = 0.085


def stamp(colour: str) -> Item:
    """A stamp: the pad is the main geom (what tasks measure); the handle collides, the knob is for looks."""
    top = PAD_HALF[2]
    handle = ObjectPart("cylinder", HANDLE, (0.0, 0.0, top + HANDLE[1]), (0.55, 0.35, 0.2, 1.0), True, 0.02)
    knob = ObjectPart("sphere", (0.014,), (0.0, 0.0, top + 2 * HANDLE[1] + 0.004), COLOURS[colour], False, 0.005)
    obj = CompoundObject(f"{colour}_stamp", "box", PAD_HALF, COLOURS[colour], 0.04, parts=(handle, knob))
    return Item(colour, "stamp", obj)


class StampTask(SimTask):
    name = "Stamp"
    task_set = "novel"
    max_steps = 50
    summary = "press the named stamp down on the mark of the named colour (held in the gripper, never let go)"
    templates = (
        "stamp the {mark} with the {target}",
        "press the {target} down on the {mark}",
        "use the {target} to stamp the {mark}",
        "make a print on the {mark} with the {target}",
        "hold the {target} and press it onto the {mark}",
    )
    heldout_templates = (
        "leave a print of the {target} on the {mark}",
        "could you press the {target} onto the {mark}",
    )
    aux_size = 1  # index of the mark in MARK_COLOURS

    def make_items(self) -> tuple[Item, ...]:
        return (stamp("yellow"), stamp("purple"), cube("orange", half=0.018))

    def scene(self) -> SceneSpec:
        marks = tuple(SceneFixture(f"{c}_mark", "box", (MARK_HALF, MARK_HALF, 0.0008), COLOURS[c]) for c in MARK_COLOURS)
        return SceneSpec(objects=tuple(i.obj for i in self.items), fixtures=marks, image_size=self.image_size)

    @property
    def mark_label(self) -> str:
        return f"{MARK_COLOURS[int(self.aux[0])]} mark"

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        marks = sample_positions(rng, len(MARK_COLOURS), (0.38, 0.62), (-0.24, 0.24), 2 * MARK_HALF + 0.06)
        for colour, p in zip(MARK_COLOURS, marks):
            backend.set_object_pose(f"{colour}_mark", np.array([p[0], p[1], TABLE_TOP_Z + 0.0008]))

        def off_marks(p: np.ndarray) -> bool:
            return all(np.linalg.norm(p - q) >= MARK_HALF * 1.42 + 0.04 for q in marks)

        xy = sample_positions(rng, len(self.items), (0.34, 0.66), (-0.26, 0.26), 0.1, accept=off_marks)
        self.place_items(backend, xy, rng)
        self.target = int(rng.choice([k for k, item in enumerate(self.items) if item.noun == "stamp"]))
        mark = int(rng.integers(len(MARK_COLOURS)))
        self.aux = np.array([float(mark)])
        self.goal = np.array([marks[mark][0], marks[mark][1], TABLE_TOP_Z])
        return {"target": self.target_item.label, "mark": self.mark_label}

    # -- predicates -------------------------------------------------------------
    def _offset(self, backend: MujocoUR5Backend) -> np.ndarray:
        """Horizontal vector from the pad's centre to the mark's centre (z = 0)."""
        off = self.goal - backend.object_position(self.target_item.obj.name)
        off[2] = 0.0
        return off

    def pressed(self, backend: MujocoUR5Backend) -> bool:
        """The pad lies flat on the table over the mark (whoever holds it)."""
        obj = self.target_item.obj
        return bool(
            np.linalg.norm(self._offset(backend)) <= ON_MARK
            and bottom_height(backend, obj) < PRESSED
            and tilt_angle(backend, obj) < UPRIGHT
        )

    def success(self, backend: MujocoUR5Backend) -> bool:
        return self.pressed(backend) and holding(backend, self.target_item)

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        item = self.target_item
        reach = float(np.linalg.norm(backend.tcp_pose()[0] - self._grip_point(backend)))
        transport = 1.0 - np.tanh(5.0 * float(np.linalg.norm(self._offset(backend))))
        held = holding(backend, item)
        press = 1.0 - np.tanh(20.0 * bottom_height(backend, item.obj)) if held else 0.0
        return shaped_reward(reach, 0.2 * held + 0.5 * transport * held + 0.3 * press)

    # -- expert -----------------------------------------------------------------
    def _grip_point(self, backend: MujocoUR5Backend) -> np.ndarray:
        """Where the fingertips grip the handle: on its axis, GRIP_ABOVE over the pad's face."""
        obj = self.target_item.obj
        axis = backend.object_rotation(obj.name)[:, 2]
        return backend.object_position(obj.name) + axis * (GRIP_ABOVE - PAD_HALF[2])

    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        item = self.target_item
        if not holding(backend, item):
            return self._grip_handle(backend, vocabulary)
        bottom = bottom_height(backend, item.obj)
        offset = self._offset(backend)
        off = float(np.max(np.abs(offset[:2])))
        if off > 0.008:
            if bottom < CARRY - 0.01 and off > 0.02:  # a small correction is made where the stamp is
                return axis_step(vocabulary, "z", CARRY + 0.01 - bottom)
            motion = step_toward(vocabulary, offset, ("x", "y"), tolerance=0.006)
            if motion is not None:
                return motion
        return axis_step(vocabulary, "z", -(bottom + PRESSED))

    def _grip_handle(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        """Open the gripper, come down over the handle from above and close on it."""
        tcp = backend.tcp_pose()[0]
        if not commanded_open(backend):
            return gripper_motion(vocabulary, open_=True)
        if backend.gripper_opening() < 0.9:  # told to open but blocked (pressing on something): back off upward
            return axis_step(vocabulary, "z", 0.05)
        goal = self._grip_point(backend)
        hover = TABLE_TOP_Z + bottom_height(backend, self.target_item.obj) + STAMP_HEIGHT + 0.04
        motion = go_to(vocabulary, tcp, goal, safe_height=hover)
        return motion if motion is not None else gripper_motion(vocabulary, open_=False)
