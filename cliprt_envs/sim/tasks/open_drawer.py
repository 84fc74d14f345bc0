"""OpenDrawer: open the drawer of the named colour by at least 8 cm.

Two cabinets of different colours stand at the left and right edges of the
table with their drawers facing the middle, so the front camera sees the
drawers slide out; which colour stands where, and the cabinets' poses, change
every episode. A few small objects lie on the table nearer the robot. The
expert hooks the closed fingers behind the handle bar and pulls the drawer
out toward the middle of the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.colours import muted
from cliprt_envs.sim.scene import TABLE_TOP_Z, DrawerSpec, SceneSpec
from cliprt_envs.sim.tasks.base import COLOURS, Item, SimTask, cube, sample_positions, shaped_reward, yaw_quat
from cliprt_envs.sim.tasks.expert import AXES_XYZ, PUSHER_HALF, axis_step, go_to, make_fist, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

OPEN_DISTANCE = 0.08
OVERSHOOT = 0.015
DRAWER_COLOURS = ("red", "blue")
HANDLE_GAP = 0.045  # clear space between the handle bar and the drawer front
BAR_HALF = 0.008  # half-thickness of the handle bar
HOOK_DEPTH = 0.01  # fingertips this far below the bar's middle when hooked
SAFE_HEIGHT = TABLE_TOP_Z + 0.2  # fingertips clear the cabinets (14 cm tall)


def _muted(colour: str) -> tuple[float, float, float, float]:
    return muted(COLOURS[colour])


class OpenDrawerTask(SimTask):
    name = "OpenDrawer"
    max_steps = 30
    summary = "open the drawer of the named colour by 8 cm or more"
    templates = (
        "open the {target}",
        "pull the {target} open",
        "open the {target} by pulling its handle",
        "slide the {target} out",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "get the {target} open",
        "could you open up the {target}",
    )

    def make_items(self) -> tuple[Item, ...]:
        # Small things on the table between the robot and the cabinets: distractors only.
        return (cube("yellow", half=0.018), cube("green", half=0.018))

    def scene(self) -> SceneSpec:
        drawers = tuple(DrawerSpec(rgba=_muted(c), name=f"{c}_drawer", handle_gap=HANDLE_GAP) for c in DRAWER_COLOURS)
        return SceneSpec(objects=tuple(i.obj for i in self.items), drawers=drawers, image_size=self.image_size)

    @property
    def drawer(self) -> str:
        return f"{DRAWER_COLOURS[self.target]}_drawer"

    def target_label(self) -> str:
        return f"{DRAWER_COLOURS[self.target]} drawer"

    def target_body(self) -> str:
        return self.drawer  # what its slide moves

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        x = rng.uniform(0.5, 0.6)
        sides = rng.permutation([1.0, -1.0])  # +1: the left edge (+y), drawer opening toward -y
        for colour, side in zip(DRAWER_COLOURS, sides):
            pos = np.array([x + rng.uniform(-0.02, 0.02), side * rng.uniform(0.28, 0.31), TABLE_TOP_Z])
            backend.set_object_pose(f"{colour}_drawer_cabinet", pos, yaw_quat(side * np.pi / 2))
        xy = sample_positions(rng, len(self.items), (0.3, 0.37), (-0.2, 0.2), 0.1)
        self.place_items(backend, xy, rng)
        self.target = int(rng.integers(len(DRAWER_COLOURS)))
        self.goal = np.zeros(3)
        return {"target": self.target_label()}

    def keep_clear(self, backend: MujocoUR5Backend) -> tuple[np.ndarray, ...]:
        """The handle and the path it is pulled along."""
        handle = backend.site_position(f"{self.drawer}_handle")
        return tuple(handle + self.open_direction(backend) * t for t in (0.0, 0.08, 0.16))

    # -- geometry of the target drawer -------------------------------------------
    def opening(self, backend: MujocoUR5Backend) -> float:
        return backend.joint_position(f"{self.drawer}_slide")

    def open_direction(self, backend: MujocoUR5Backend) -> np.ndarray:
        """World direction in which the target drawer slides out."""
        return -backend.object_rotation(f"{self.drawer}_cabinet")[:, 0]

    def _slot(self, backend: MujocoUR5Backend) -> np.ndarray:
        """Where the fingertips hook: between the handle bar and the drawer front, below the bar's middle."""
        handle = backend.site_position(f"{self.drawer}_handle")
        return handle - self.open_direction(backend) * (BAR_HALF + HANDLE_GAP / 2) - np.array([0.0, 0.0, HOOK_DEPTH])

    def success(self, backend: MujocoUR5Backend) -> bool:
        return self.opening(backend) >= OPEN_DISTANCE

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        dist = float(np.linalg.norm(backend.tcp_pose()[0] - self._slot(backend)))
        return shaped_reward(dist, self.opening(backend) / OPEN_DISTANCE)

    # -- expert -------------------------------------------------------------------
    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        tcp = backend.tcp_pose()[0]
        handle = backend.site_position(f"{self.drawer}_handle")
        motion = make_fist(backend, vocabulary, handle, SAFE_HEIGHT)  # the closed fingers are the hook
        if motion is not None:
            return motion
        out = self.open_direction(backend)
        bar = np.array([-out[1], out[0], 0.0])
        rel = tcp - handle
        inward, lateral = float(-rel @ out), float(rel @ bar)
        hooked = BAR_HALF < inward < BAR_HALF + HANDLE_GAP + 0.005 and abs(lateral) < 0.02 and -0.03 < rel[2] < 0.0
        k = int(np.argmax(np.abs(out[:2])))
        if hooked:
            # The fingers' outer face is PUSHER_HALF from the tool-centre point: take up the slack, then pull.
            slack = inward - BAR_HALF - PUSHER_HALF
            remaining = OPEN_DISTANCE + OVERSHOOT - self.opening(backend)
            distance = float(np.clip(slack + remaining, 0.01, 0.05))
            return axis_step(vocabulary, AXES_XYZ[k], distance * float(np.sign(out[k])))
        motion = go_to(vocabulary, tcp, self._slot(backend), safe_height=SAFE_HEIGHT)
        return motion if motion is not None else axis_step(vocabulary, AXES_XYZ[k], 0.01 * float(np.sign(out[k])))
