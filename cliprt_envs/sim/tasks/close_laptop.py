"""CloseLaptop (Novel): shut the lid of the named toy laptop.

Two laptops (a base and a lid on a hinge) stand on the table with their
hinges toward the robot and their screens toward the front camera; each lid
is open between 60 and 105 degrees, so some lean back past upright. Which
colour stands where, the poses and the lid angles change every episode; a
few small objects lie nearer the robot. Success: the named lid is within
6 degrees of shut while the other one is still open (more than 25 degrees).

The expert uses the closed fingers as a pusher: while the lid stands steep
it pushes the lid's back away from the robot at a fixed height, then it
presses the half-shut lid down from above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.scene import TABLE_TOP_Z, HingedLidSpec, SceneSpec
from cliprt_envs.sim.tasks.base import Item, SimTask, cube, cylinder, sample_positions, shaped_reward, yaw_quat
from cliprt_envs.sim.tasks.expert import PUSHER_HALF, axis_step, go_to, make_fist, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

#: Laptop colours the instructions name (no free object has them).
LAPTOP_COLOURS: dict[str, tuple[float, float, float, float]] = {
    "silver": (0.74, 0.75, 0.78, 1.0),
    "black": (0.16, 0.16, 0.18, 1.0),
}
BASE_SIZE = (0.065, 0.085, 0.008)  # half-sizes: a 13 x 17 cm toy laptop
LID_HALF = 0.004
LID_LENGTH = 2 * BASE_SIZE[0]
OPEN_RANGE = (np.radians(60.0), np.radians(105.0))
#: Counts as shut below this angle; the other lid must stay above OTHER_OPEN.
SHUT = np.radians(6.0)
OTHER_OPEN = np.radians(25.0)
#: Above this angle the expert pushes the lid's back horizontally, below it presses down.
STEEP = np.radians(40.0)
#: The horizontal push ends once the lid is this low.
PUSH_TO = np.radians(36.0)
#: Height (above the hinge) of the horizontal push: the lid reaches it at every angle above STEEP.
PUSH_HEIGHT = 0.8 * LID_LENGTH * np.sin(STEEP)
#: Distance from the hinge (along the lid) of the downward press.
PRESS_AT = 0.07
#: Below this angle the press point is over the lid (with a margin), so pressing down works.
PRESSABLE = np.radians(50.0)
SAFE_HEIGHT = TABLE_TOP_Z + 0.21


def laptop_spec(colour: str) -> HingedLidSpec:
    return HingedLidSpec(
        name=f"{colour}_laptop",
        rgba=LAPTOP_COLOURS[colour],
        base_size=BASE_SIZE,
        lid_half_thickness=LID_HALF,
        lid_face_rgba=(0.08, 0.12, 0.25, 1.0),
        base_face_rgba=(0.3, 0.3, 0.32, 1.0),
    )


def set_joint(backend: MujocoUR5Backend, joint: str, value: float) -> None:
    """Set a scene joint (a hinge, a slide) when placing the initial scene."""
    j = backend.model.joint(joint)
    backend.data.qpos[j.qposadr[0]] = value
    backend.data.qvel[j.dofadr[0]] = 0.0


class CloseLaptopTask(SimTask):
    name = "CloseLaptop"
    task_set = "novel"
    max_steps = 30
    summary = "shut the lid of the named toy laptop (hinged lid, some lean back past upright)"
    templates = (
        "close the {target}",
        "shut the {target}",
        "close the lid of the {target}",
        "fold the screen of the {target} down",
        "shut the {target} lid",
    )
    heldout_templates = (
        "flip the {target} closed",
        "could you fold the {target} shut",
    )
    aux_size = 1  # the target lid's angle at the start (for the reward)

    def make_items(self) -> tuple[Item, ...]:
        # Small things on the table between the robot and the laptops: distractors only.
        return (cube("orange", half=0.018), cylinder("purple", radius=0.018, half_height=0.025))

    def scene(self) -> SceneSpec:
        laptops = tuple(laptop_spec(c) for c in LAPTOP_COLOURS)
        return SceneSpec(objects=tuple(i.obj for i in self.items), lids=laptops, image_size=self.image_size)

    @property
    def laptop(self) -> str:
        return f"{tuple(LAPTOP_COLOURS)[self.target]}_laptop"

    def target_label(self) -> str:
        return f"{tuple(LAPTOP_COLOURS)[self.target]} laptop"

    def target_body(self) -> str:
        return f"{self.laptop}_lid"  # what its hinge turns

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        x = rng.uniform(0.5, 0.57)
        sides = rng.permutation([1.0, -1.0])
        for colour, side in zip(LAPTOP_COLOURS, sides):
            pos = np.array([x + rng.uniform(-0.015, 0.015), side * rng.uniform(0.13, 0.155), TABLE_TOP_Z])
            # Turned half a turn: the hinge toward the robot, the screen toward the front camera.
            backend.set_object_pose(f"{colour}_laptop_base", pos, yaw_quat(np.pi + rng.uniform(-0.15, 0.15)))
            set_joint(backend, f"{colour}_laptop_hinge", rng.uniform(*OPEN_RANGE))
        xy = sample_positions(rng, len(self.items), (0.3, 0.36), (-0.22, 0.22), 0.1)
        self.place_items(backend, xy, rng)
        self.target = int(rng.integers(len(LAPTOP_COLOURS)))
        self.goal = np.zeros(3)
        self.aux = np.array([backend.joint_position(f"{self.laptop}_hinge")])
        return {"target": self.target_label()}

    # -- geometry of the target laptop ------------------------------------------------
    def angle(self, backend: MujocoUR5Backend, laptop: str | None = None) -> float:
        return backend.joint_position(f"{laptop or self.laptop}_hinge")

    def frame(self, backend: MujocoUR5Backend) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hinge's middle, the horizontal direction the shut lid points to and the hinge direction."""
        hinge = backend.site_position(f"{self.laptop}_hinge_axis")
        u = -backend.object_rotation(f"{self.laptop}_base")[:, 0]
        u[2] = 0.0
        u /= np.linalg.norm(u)
        return hinge, u, np.array([-u[1], u[0], 0.0])

    def press_point(self, backend: MujocoUR5Backend) -> np.ndarray:
        hinge, u, _ = self.frame(backend)
        return hinge + PRESS_AT * u

    def success(self, backend: MujocoUR5Backend) -> bool:
        other = tuple(LAPTOP_COLOURS)[1 - self.target]
        return self.angle(backend) < SHUT and self.angle(backend, f"{other}_laptop") > OTHER_OPEN

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        lid_middle = backend.site_position(f"{self.laptop}_edge") * 0.5 + backend.site_position(f"{self.laptop}_hinge_axis") * 0.5
        reach = float(np.linalg.norm(backend.tcp_pose()[0] - lid_middle)) - 0.05
        start = float(self.aux[0])
        return shaped_reward(reach, (start - self.angle(backend)) / max(start - SHUT, 1e-6))

    # -- expert -------------------------------------------------------------------------
    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        hinge, _, _ = self.frame(backend)
        motion = make_fist(backend, vocabulary, hinge, SAFE_HEIGHT)  # the closed fingers push
        if motion is not None:
            return motion
        theta = self.angle(backend)
        if theta > STEEP and not (theta < PRESSABLE and self._over_lid(backend)):
            return self._push_back(backend, vocabulary)
        return self._press_down(backend, vocabulary)

    def _over_lid(self, backend: MujocoUR5Backend) -> bool:
        """The fingertips are above the lid, within its outline."""
        hinge, u, w = self.frame(backend)
        theta = self.angle(backend)
        rel = backend.tcp_pose()[0] - hinge
        along = float(rel @ u)
        inside = 0.02 <= along <= LID_LENGTH * np.cos(theta) and abs(float(rel @ w)) <= BASE_SIZE[1]
        return bool(inside and rel[2] >= along * np.tan(theta) + 2 * LID_HALF / np.cos(theta))

    def _face_offset(self, theta: float) -> float:
        """Distance from the hinge, along the lid's direction, of the lid's back at PUSH_HEIGHT."""
        r = (PUSH_HEIGHT - 2 * LID_HALF * np.cos(theta)) / np.sin(theta)
        return float(r * np.cos(theta) - 2 * LID_HALF * np.sin(theta))

    def _push_back(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        """Push the steep lid's back away from the robot, at PUSH_HEIGHT above the hinge."""
        hinge, u, w = self.frame(backend)
        tcp = backend.tcp_pose()[0]
        rel = tcp - hinge
        along, lateral, height = float(rel @ u), float(rel @ w), float(rel[2])
        contact = self._face_offset(self.angle(backend)) - PUSHER_HALF
        k = int(np.argmax(np.abs(u[:2])))
        sign = float(np.sign(u[k]))
        if abs(height - PUSH_HEIGHT) <= 0.02 and abs(lateral) <= 0.03 and contact - 0.07 <= along <= contact + 0.02:
            # Overshooting is harmless (a lower lid passes under the fingers), so push in long strokes.
            target = self._face_offset(PUSH_TO) - PUSHER_HALF
            distance = float(np.clip(target - along + 0.03, 0.01, 0.05))
            return axis_step(vocabulary, "xyz"[k], distance * sign / abs(u[k]))
        pre = hinge + (contact - 0.04) * u + np.array([0.0, 0.0, PUSH_HEIGHT])
        motion = go_to(vocabulary, tcp, pre, safe_height=SAFE_HEIGHT)
        return motion if motion is not None else axis_step(vocabulary, "xyz"[k], 0.01 * sign)

    def _press_down(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        """Press the half-shut lid down from above: where the fingers are if over its middle, else PRESS_AT out."""
        hinge, u, w = self.frame(backend)
        theta = self.angle(backend)
        tcp = backend.tcp_pose()[0]
        point = self.press_point(backend)

        def surface(along: float) -> float:  # height of the lid's top this far from the hinge
            along = float(np.clip(along, 0.0, LID_LENGTH * np.cos(theta)))
            return float(hinge[2] + along * np.tan(theta) + 2 * LID_HALF / np.cos(theta))

        along, lateral = float((tcp - hinge) @ u), float((tcp - hinge) @ w)
        # Anywhere over the lid's middle part will do: press down where the fingers are.
        pressable = 0.04 <= along <= min(0.095, LID_LENGTH * np.cos(theta) - 0.015) and abs(lateral) <= 0.05
        if pressable and tcp[2] <= surface(along) + 0.04:
            shut_top = hinge[2] + 2 * LID_HALF
            return axis_step(vocabulary, "z", min(shut_top - 0.004 - tcp[2], -0.01))
        # Over this laptop, travel no higher than needed (just above the lid on the way); from elsewhere, high.
        over = -0.05 <= along <= LID_LENGTH + 0.02 and abs(lateral) <= BASE_SIZE[1] + 0.02
        clear = surface(max(along, PRESS_AT)) + 0.02 if over else SAFE_HEIGHT
        goal = np.array([point[0], point[1], surface(PRESS_AT) + 0.015])
        motion = go_to(vocabulary, tcp, goal, safe_height=clear)
        return motion if motion is not None else axis_step(vocabulary, "z", -0.01)
