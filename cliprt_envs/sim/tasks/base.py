"""The twin's tasks: the MuJoCo specifics on top of the robot-agnostic :class:`~cliprt_envs.tasks.Task`.

A :class:`SimTask` supplies its scene, how to place it for a new episode, a
success predicate, a dense reward and a scripted expert. Experts are *stateless*:
they read the scene and return the next motion id, so they can act from any
state (a fresh episode, a state restored by trajectory augmentation, or after a
human correction), and they act only through the motion vocabulary.

MuJoCo itself is not imported here: the backend is only a type, so the
registry can read each task's name and step limit without loading a simulator.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.colours import COLOURS, rename_colours
from cliprt_envs.sim.scene import HOME_POSITION, TABLE_TOP_Z, SceneObject, SceneSpec
from cliprt_envs.tasks.base import Task

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend


@dataclass(frozen=True)
class Item:
    """A nameable object: ``colour`` + ``noun`` ("red cube")."""

    colour: str
    noun: str
    obj: SceneObject

    @property
    def label(self) -> str:
        return f"{self.colour} {self.noun}"


def cube(colour: str, half: float = 0.02, mass: float = 0.06, key: str | None = None) -> Item:
    name = key or f"{colour}_cube"
    return Item(colour, "cube", SceneObject(name, "box", (half, half, half), COLOURS[colour], mass))


def cylinder(
    colour: str,
    radius: float = 0.02,
    half_height: float = 0.03,
    mass: float = 0.06,
    noun: str = "cylinder",
    key: str | None = None,
) -> Item:
    name = key or f"{colour}_{noun}"
    return Item(colour, noun, SceneObject(name, "cylinder", (radius, half_height), COLOURS[colour], mass))


def sample_positions(
    rng: np.random.Generator,
    n: int,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    min_distance: float,
    avoid: tuple[np.ndarray, ...] = (),
    max_tries: int = 1000,
    accept: Callable[[np.ndarray], bool] | None = None,
) -> list[np.ndarray]:
    """``n`` xy points in the box, pairwise at least ``min_distance`` apart.

    ``accept`` (optional) rejects points, e.g. those in the path of a push.
    """
    points: list[np.ndarray] = []
    taken = list(avoid)
    for _ in range(max_tries):
        if len(points) == n:
            return points
        p = np.array([rng.uniform(*x_range), rng.uniform(*y_range)])
        if accept is not None and not accept(p):
            continue
        if all(np.linalg.norm(p - q[:2]) >= min_distance for q in taken):
            points.append(p)
            taken.append(p)
    raise RuntimeError(f"could not place {n} objects {min_distance} m apart in {x_range} x {y_range}")


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def outside_corridor(
    start: np.ndarray, direction: np.ndarray, behind: float, ahead: float, half_width: float
) -> Callable[[np.ndarray], bool]:
    """A predicate for :func:`sample_positions`: True for points off a push path.

    The path runs from ``behind`` metres before ``start`` to ``ahead`` metres
    after it along the horizontal unit ``direction``, ``half_width`` to each side.
    """
    d = np.asarray(direction, dtype=np.float64)[:2]
    side = np.array([-d[1], d[0]])
    s0 = np.asarray(start, dtype=np.float64)[:2]

    def accept(p: np.ndarray) -> bool:
        rel = np.asarray(p)[:2] - s0
        return not (-behind <= rel @ d <= ahead and abs(rel @ side) <= half_width)

    return accept


# -- object geometry read from the simulation --------------------------------------
def extent_along(backend: MujocoUR5Backend, obj: SceneObject, direction: np.ndarray) -> float:
    """Half-extent of ``obj`` (in its current pose) along a world ``direction`` (unit)."""
    d = np.asarray(direction, dtype=np.float64)
    rot = backend.object_rotation(obj.name)
    if obj.shape == "box":
        return float(sum(abs(rot[:, i] @ d) * obj.size[i] for i in range(3)))
    if obj.shape == "cylinder":
        c = abs(rot[:, 2] @ d)
        return float(obj.size[1] * c + obj.size[0] * np.sqrt(max(0.0, 1.0 - c * c)))
    return float(obj.size[0])


def bottom_height(backend: MujocoUR5Backend, obj: SceneObject) -> float:
    """Height of the object's lowest point above the table top."""
    centre = backend.object_position(obj.name)[2]
    return float(centre - extent_along(backend, obj, np.array([0.0, 0.0, 1.0])) - TABLE_TOP_Z)


def top_height(backend: MujocoUR5Backend, obj: SceneObject) -> float:
    """Height of the object's highest point above the table top."""
    centre = backend.object_position(obj.name)[2]
    return float(centre + extent_along(backend, obj, np.array([0.0, 0.0, 1.0])) - TABLE_TOP_Z)


def tilt_angle(backend: MujocoUR5Backend, obj: SceneObject) -> float:
    """Angle (radians) between the object's own z axis and the vertical."""
    return float(np.arccos(np.clip(backend.object_rotation(obj.name)[2, 2], -1.0, 1.0)))


def finger_contact(backend: MujocoUR5Backend, name: str) -> bool:
    """Either finger touches body ``name``."""
    return backend.touching("left_finger", name) or backend.touching("right_finger", name)


def shaped_reward(reach_distance: float, progress: float, reach_weight: float = 0.3) -> float:
    """Dense reward below 1: ``reach_weight`` for closing ``reach_distance``, the rest for ``progress`` in [0, 1].

    Success is rewarded 1 by the caller; this stays below 0.99 so success is the only way to 1.
    """
    reach = 1.0 - np.tanh(5.0 * max(0.0, reach_distance))
    value = reach_weight * reach + (1.0 - reach_weight) * float(np.clip(progress, 0.0, 1.0))
    return float(0.99 * value)


class SimTask(Task["MujocoUR5Backend"]):
    """Base of the MuJoCo twin's tasks; subclasses fill in the hooks."""

    #: ``"common"`` (skills the pretraining corpus covers) or ``"novel"`` (held out of pretraining, as in
    #: the CLIP-RT paper's Novel set); the registry groups the tasks by it.
    task_set: ClassVar[str] = "common"

    def __init__(self, image_size: tuple[int, int] = (224, 224)) -> None:
        super().__init__()
        self.image_size = image_size
        self.items: tuple[Item, ...] = self.make_items()

    # -- hooks ----------------------------------------------------------------
    @abstractmethod
    def make_items(self) -> tuple[Item, ...]:
        """Every nameable object of the scene (target candidates and distractors)."""

    def scene(self) -> SceneSpec:
        return SceneSpec(objects=tuple(i.obj for i in self.items), image_size=self.image_size)

    @abstractmethod
    def place(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        """Place objects, choose ``self.target``/``self.goal``; return template fields."""

    @abstractmethod
    def reward(self, backend: MujocoUR5Backend) -> float: ...

    @abstractmethod
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        """The next motion id of the scripted expert, from the current state alone."""

    def keep_clear(self, backend: MujocoUR5Backend) -> tuple[np.ndarray, ...]:
        """Points extra objects (``SceneVariation.clutter``) keep well away from: where the expert works."""
        return (backend.object_position(self.target_item.obj.name),) if self.items else ()

    # -- shared machinery ----------------------------------------------------
    @property
    def target_item(self) -> Item:
        return self.items[self.target]

    def target_label(self) -> str:
        """The words of the instruction that name what to act on ("red cube")."""
        return self.target_item.label

    def target_body(self) -> str:
        """The scene body that acting on the named thing moves (as ``MujocoUR5Backend.moved_bodies`` names it)."""
        return self.target_item.obj.name

    def sample_initial_state(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> dict[str, str]:
        """The arm near home (jittered), the objects placed by :meth:`place`, then the scene settled."""
        backend.vary_scene(rng)
        backend.reset_robot()
        start = HOME_POSITION + np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), rng.uniform(-0.02, 0.02)])
        backend.move_tcp_to(start)
        fields = self.place(backend, rng)
        backend.scatter_clutter(rng, lambda: self.keep_clear(backend))  # with SceneVariation.clutter: a few extra objects
        backend.settle(60)
        renaming = backend.colour_renaming  # a recoloured corpus scene: the words follow the paint
        return {key: rename_colours(value, renaming) for key, value in fields.items()}

    def place_items(
        self,
        backend: MujocoUR5Backend,
        xy: list[np.ndarray],
        rng: np.random.Generator,
        items: tuple[Item, ...] | None = None,
        random_yaw: bool = True,
    ) -> None:
        for item, p in zip(items or self.items, xy):
            yaw = rng.uniform(-np.pi / 4, np.pi / 4) if random_yaw else 0.0
            z = TABLE_TOP_Z + item.obj.half_height + 0.0005
            backend.set_object_pose(item.obj.name, np.array([p[0], p[1], z]), yaw_quat(yaw))
