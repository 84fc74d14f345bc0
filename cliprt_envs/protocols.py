"""The protocols that put a robot behind the language-motion env.

A backend moves an end effector by an 8-D delta and says what it really did;
a camera returns an image; a task says what to do, whether it is done and how
an expert would do it. The sim twin, the real UR5 and LIBERO each implement
these, so the env, agents and recorders never know which robot they drive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned safety box for the tool-centre point, metres, robot frame."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def __post_init__(self) -> None:
        if any(lo >= hi for lo, hi in zip(self.low, self.high)):
            raise ValueError(f"workspace low {self.low} must be below high {self.high}")

    def clamp_step(self, position: np.ndarray, delta_xyz: np.ndarray) -> tuple[np.ndarray, bool]:
        """Shorten ``delta_xyz`` so that ``position + delta`` stays in the box."""
        target = np.clip(position + delta_xyz, self.low, self.high)
        clamped = target - position
        return clamped, bool(np.any(np.abs(clamped - delta_xyz) > 1e-9))

    def contains(self, position: np.ndarray, tol: float = 1e-6) -> bool:
        p = np.asarray(position)
        return bool(np.all(p >= np.asarray(self.low) - tol) and np.all(p <= np.asarray(self.high) + tol))


@dataclass(frozen=True)
class MoveResult:
    """What a backend did for one commanded delta.

    ``commanded`` is the 8-D delta after the safety clamp; ``achieved`` the
    measured change of ``[x, y, z, roll, pitch, yaw, gripper_rotation,
    gripper_opening]``.
    """

    commanded: np.ndarray
    achieved: np.ndarray
    ik_failed: bool = False
    joint_limited: bool = False
    table_collision: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class RobotBackend(Protocol):
    """An arm with a gripper that moves by end-effector deltas."""

    workspace: Workspace
    #: True when save_state/restore_state reproduce the whole scene exactly.
    exact_state: bool

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool-centre point position (3,) and orientation quaternion wxyz (4,)."""
        ...

    def gripper_opening(self) -> float:
        """0 fully closed .. 1 fully open."""
        ...

    def move(self, delta: np.ndarray) -> MoveResult: ...

    def save_state(self) -> np.ndarray: ...

    def restore_state(self, state: np.ndarray) -> None: ...


@runtime_checkable
class Camera(Protocol):
    """Anything that returns an RGB image."""

    height: int
    width: int

    def read(self) -> np.ndarray:
        """An ``(height, width, 3)`` uint8 image."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Task(Protocol):
    """What to do on a backend: instructions, initial state, success, expert."""

    name: str
    max_steps: int

    def instruction_templates(self) -> tuple[str, ...]: ...

    def reset(self, backend: Any, rng: np.random.Generator) -> str:
        """Place the scene for a new episode; return its instruction."""
        ...

    def success(self, backend: Any) -> bool: ...

    def reward(self, backend: Any) -> float:
        """Dense shaping reward in [0, 1]; 1 when successful."""
        ...

    def save_state(self) -> np.ndarray:
        """Task variables (e.g. which object is the target) as a flat array."""
        ...

    def restore_state(self, state: np.ndarray) -> None: ...
