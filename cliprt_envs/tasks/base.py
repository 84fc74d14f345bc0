"""Sim tasks: a few named hooks per task (ManiSkill/Metaworld style).

A :class:`SimTask` supplies its scene, how to place it for a new episode, a
success predicate, a dense reward and a scripted expert. Experts are *stateless*:
they read the scene and return the next motion id, so they can act from any
state (a fresh episode, a state restored by trajectory augmentation, or after a
human correction), and they act only through the motion vocabulary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from cliprt_envs.motions import Vocabulary
from cliprt_envs.sim.backend import HOME_POSITION, MujocoUR5Backend
from cliprt_envs.sim.scene import TABLE_TOP_Z, SceneObject, SceneSpec

# Colours and shapes the instructions can name.
COLOURS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.1, 1.0),
    "green": (0.1, 0.65, 0.2, 1.0),
    "blue": (0.12, 0.25, 0.85, 1.0),
    "yellow": (0.95, 0.8, 0.1, 1.0),
    "purple": (0.55, 0.2, 0.7, 1.0),
    "orange": (0.95, 0.5, 0.1, 1.0),
}


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
) -> list[np.ndarray]:
    """``n`` xy points in the box, pairwise at least ``min_distance`` apart."""
    points: list[np.ndarray] = []
    taken = list(avoid)
    for _ in range(max_tries):
        if len(points) == n:
            return points
        p = np.array([rng.uniform(*x_range), rng.uniform(*y_range)])
        if all(np.linalg.norm(p - q[:2]) >= min_distance for q in taken):
            points.append(p)
            taken.append(p)
    raise RuntimeError(f"could not place {n} objects {min_distance} m apart in {x_range} x {y_range}")


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


class SimTask(ABC):
    """Base of the MuJoCo twin's tasks; subclasses fill in the hooks."""

    name: str = ""
    max_steps: int = 60
    #: Instruction templates; ``{target}`` (and task-specific fields) are filled in.
    templates: tuple[str, ...] = ()

    def __init__(self, image_size: tuple[int, int] = (224, 224)) -> None:
        self.image_size = image_size
        self.items: tuple[Item, ...] = self.make_items()
        self.target = 0
        self.goal = np.zeros(3)

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
    def success(self, backend: MujocoUR5Backend) -> bool: ...

    @abstractmethod
    def reward(self, backend: MujocoUR5Backend) -> float: ...

    @abstractmethod
    def expert_action(self, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        """The next motion id of the scripted expert, from the current state alone."""

    # -- shared machinery ----------------------------------------------------
    def instruction_templates(self) -> tuple[str, ...]:
        return self.templates

    @property
    def target_item(self) -> Item:
        return self.items[self.target]

    def reset(self, backend: MujocoUR5Backend, rng: np.random.Generator) -> str:
        backend.reset_robot()
        start = HOME_POSITION + np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), rng.uniform(-0.02, 0.02)])
        backend.move_tcp_to(start)
        fields = self.place(backend, rng)
        backend.settle(60)
        template = self.templates[int(rng.integers(len(self.templates)))]
        return template.format(**fields)

    def save_state(self) -> np.ndarray:
        return np.concatenate([[float(self.target)], self.goal])

    def restore_state(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (4,):
            raise ValueError(f"{self.name} task state has 4 numbers, got shape {state.shape}")
        self.target = int(state[0])
        self.goal = state[1:4].copy()

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
