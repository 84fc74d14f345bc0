"""ParkCar (Novel): push the named toy car into the parking spot of the named colour.

Two toy cars (a body, a cabin and wheels) and a small cube stand on the
table with two coloured parking spots (flat squares that nothing collides
with). The named spot lies 13 to 18 cm ahead of, to the left of or to the
right of the named car, which faces it; the other spot and the other things
stay off the way. Success: the car's centre within 4 cm (along x and y) of
the spot's centre, on the table, and the fingers off it.

The expert pushes the car with the closed fingers along whichever table axis
it is furthest off the spot, so it also recovers from an overshoot or a
sideways slip.
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
    extent_along,
    finger_contact,
    outside_corridor,
    sample_positions,
    shaped_reward,
    yaw_quat,
)
from cliprt_envs.sim.tasks.expert import PUSHER_HALF, axis_step, push_expert, upright_first

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

CAR_HALF = (0.04, 0.02, 0.017)  # the car's body (half-sizes); it faces its own +x
SPOT_HALF = 0.05
SPOT_COLOURS = ("green", "yellow")
#: The car's centre this close (metres, along x and along y) to the spot's centre counts as parked.
PARKED = 0.04
#: The expert pushes along an axis while the car is further than this off the spot's centre along it.
AIM = 0.02
#: Fingertip height for pushing (the car's body is 3.4 cm tall).
PUSH_HEIGHT = TABLE_TOP_Z + 0.016
SAFE_HEIGHT = TABLE_TOP_Z + 0.11
TABLE_X = (0.33, 0.66)
TABLE_Y = (-0.26, 0.26)
#: (direction of the spot from the car, x range, y range of the car's start)
LAYOUTS: tuple[tuple[tuple[float, float], tuple[float, float], tuple[float, float]], ...] = (
    ((1.0, 0.0), (0.36, 0.44), (-0.2, 0.2)),
    ((0.0, 1.0), (0.4, 0.58), (-0.22, -0.1)),
    ((0.0, -1.0), (0.4, 0.58), (0.1, 0.22)),
)
WHEEL_AXLE = (0.7071068, 0.7071068, 0.0, 0.0)  # a cylinder's axis turned onto the car's y axis


def toy_car(colour: str) -> Item:
    """A toy car: the body collides and is what tasks measure; cabin and wheels are on top and at the sides."""
    _, hy, hz = CAR_HALF
    tyre = (0.12, 0.12, 0.13, 1.0)
    wheels = tuple(
        ObjectPart("cylinder", (0.009, 0.004), (sx * 0.025, sy * (hy + 0.003), 0.009 - hz), tyre, False, 0.002, WHEEL_AXLE)
        for sx in (1, -1)
        for sy in (1, -1)
    )
    cabin = ObjectPart("box", (0.018, 0.017, 0.009), (-0.006, 0.0, hz + 0.009), (0.75, 0.85, 0.95, 1.0), True, 0.01)
    obj = CompoundObject(f"{colour}_car", "box", CAR_HALF, COLOURS[colour], 0.07, friction=0.5, parts=(cabin, *wheels))
    return Item(colour, "car", obj)


class ParkCarTask(SimTask):
    name = "ParkCar"
    task_set = "novel"
    max_steps = 40
    summary = "push the named toy car into the parking spot of the named colour"
    templates = (
        "park the {target} in the {spot}",
        "drive the {target} into the {spot}",
        "roll the {target} into the {spot}",
        "park the {target} on the {spot}",
        "steer the {target} into the {spot}",
    )
    heldout_templates = (
        "bring the {target} to a stop in the {spot}",
        "i want the {target} parked in the {spot}",
    )
    aux_size = 1  # index of the spot in SPOT_COLOURS

    def make_items(self) -> tuple[Item, ...]:
        return (toy_car("red"), toy_car("blue"), cube("purple", half=0.018))

    def scene(self) -> SceneSpec:
        spots = tuple(SceneFixture(f"{c}_spot", "box", (SPOT_HALF, SPOT_HALF, 0.001), COLOURS[c]) for c in SPOT_COLOURS)
        return SceneSpec(objects=tuple(i.obj for i in self.items), fixtures=spots, image_size=self.image_size)

    @property
    def spot_label(self) -> str:
        return f"{SPOT_COLOURS[int(self.aux[0])]} parking spot"

    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        cars = [k for k, item in enumerate(self.items) if item.noun == "car"]
        self.target = int(rng.choice(cars))
        direction, x_range, y_range = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
        d = np.array(direction)
        start = np.array([rng.uniform(*x_range), rng.uniform(*y_range)])
        goal = start + d * rng.uniform(0.13, 0.18)
        clear = outside_corridor(start, d, behind=0.13, ahead=float((goal - start) @ d) + 0.1, half_width=0.09)
        (other,) = sample_positions(rng, 1, TABLE_X, TABLE_Y, 0.16, avoid=(start, goal), accept=clear)
        spot = int(rng.integers(len(SPOT_COLOURS)))
        for k, colour in enumerate(SPOT_COLOURS):
            p = goal if k == spot else other
            backend.set_object_pose(f"{colour}_spot", np.array([p[0], p[1], TABLE_TOP_Z + 0.001]))

        def free(p: np.ndarray) -> bool:
            return clear(p) and all(np.linalg.norm(p - q) >= SPOT_HALF * 1.42 + 0.04 for q in (goal, other))

        rest = [item for k, item in enumerate(self.items) if k != self.target]
        xy = sample_positions(rng, len(rest), TABLE_X, TABLE_Y, 0.1, avoid=(start, goal, other), accept=free)
        self.place_items(backend, xy, rng, items=tuple(rest))
        yaw = float(np.arctan2(d[1], d[0])) + rng.uniform(-0.12, 0.12)  # the car faces its spot
        z = TABLE_TOP_Z + self.target_item.obj.half_height + 0.0005
        backend.set_object_pose(self.target_item.obj.name, np.array([start[0], start[1], z]), yaw_quat(yaw))
        self.goal = np.array([goal[0], goal[1], TABLE_TOP_Z])
        self.aux = np.array([float(spot)])
        return {"target": self.target_item.label, "spot": self.spot_label}

    # -- predicates -------------------------------------------------------------
    def _offset(self, backend: MujocoUR5Backend) -> np.ndarray:
        """Horizontal vector from the car's centre to the spot's centre (z = 0)."""
        off = self.goal - backend.object_position(self.target_item.obj.name)
        off[2] = 0.0
        return off

    def parked(self, backend: MujocoUR5Backend) -> bool:
        on_table = bottom_height(backend, self.target_item.obj) < 0.01
        return bool(np.max(np.abs(self._offset(backend)[:2])) <= PARKED and on_table)

    def success(self, backend: MujocoUR5Backend) -> bool:
        return self.parked(backend) and not finger_contact(backend, self.target_item.obj.name)

    def reward(self, backend: MujocoUR5Backend) -> float:
        if self.success(backend):
            return 1.0
        pos = backend.object_position(self.target_item.obj.name)
        reach = float(np.linalg.norm(backend.tcp_pose()[0] - pos)) - 0.05
        return shaped_reward(reach, 1.0 - float(np.linalg.norm(self._offset(backend))) / 0.18)

    # -- expert -----------------------------------------------------------------
    @upright_first
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        offset = self._offset(backend)
        k = int(np.argmax(np.abs(offset[:2])))
        direction = np.zeros(3)
        direction[k] = 1.0 if offset[k] > 0 else -1.0
        remaining = abs(float(offset[k])) if abs(offset[k]) > AIM else 0.0
        motion = self._level_off(backend, vocabulary, direction) if remaining > 0 else None
        if motion is not None:
            return motion
        return push_expert(
            backend,
            vocabulary,
            self.target_item.obj,
            direction,
            height=PUSH_HEIGHT,
            remaining=remaining,
            safe_height=SAFE_HEIGHT,
        )

    def _level_off(self, backend: MujocoUR5Backend, vocabulary: Vocabulary, direction: np.ndarray) -> int | None:
        """Behind the car and low, a step to within 6 mm of PUSH_HEIGHT; None when there or elsewhere.

        The generic push accepts the fingers up to 12 mm off its height and
        goes back up for a new approach once they drift past that, so the
        descent behind the car is finished here, well inside that band.
        """
        obj = self.target_item.obj
        tcp = backend.tcp_pose()[0]
        rel = tcp - backend.object_position(obj.name)
        side = np.array([-direction[1], direction[0], 0.0])
        contact = -(extent_along(backend, obj, direction) + PUSHER_HALF)
        behind = contact - 0.07 <= float(rel @ direction) <= contact + 0.02 and abs(float(rel @ side)) <= 0.025
        error = PUSH_HEIGHT - float(tcp[2])
        if behind and 0.006 < abs(error) <= 0.03:
            return axis_step(vocabulary, "z", error)
        return None
