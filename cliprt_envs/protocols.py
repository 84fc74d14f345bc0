"""The protocols that put a robot behind the language-motion env.

A backend moves an end effector by an 8-D delta and says what it really did;
a camera returns an image; a task (:class:`cliprt_envs.tasks.Task`, a base
class, re-exported here) says what to do, whether it is done and how an expert
would do it. The sim twin, the real UR5 and LIBERO each implement these, so the
env, agents and recorders never know which robot they drive.

Backends and cameras are context managers: ``with backend:`` connects and
always closes, also on an exception; :class:`BackendContext` and
:class:`ClosesOnExit` give an implementation both methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from cliprt_envs.tasks.base import Task

__all__ = [
    "BackendContext",
    "Camera",
    "ClosesOnExit",
    "MoveResult",
    "RobotBackend",
    "Task",
    "Workspace",
]

_T = TypeVar("_T")


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

    def __enter__(self: _T) -> _T:
        """Connect; the backend is the ``as`` target."""
        ...

    def __exit__(self, *exc_info: object) -> None:
        """Close, whatever happened inside the block."""
        ...


@runtime_checkable
class Camera(Protocol):
    """Anything that returns an RGB image."""

    height: int
    width: int

    def read(self) -> np.ndarray:
        """An ``(height, width, 3)`` uint8 image."""
        ...

    def close(self) -> None: ...

    def __enter__(self: _T) -> _T: ...

    def __exit__(self, *exc_info: object) -> None:
        """Release the device, whatever happened inside the block."""
        ...


class ClosesOnExit(ABC):
    """Mixin for a camera (or anything with ``close()``): ``with camera:`` closes it on the way out."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BackendContext(ClosesOnExit):
    """Mixin for a robot backend: ``with backend:`` connects on entry and closes on exit."""

    @abstractmethod
    def connect(self) -> None: ...

    def __enter__(self: _T) -> _T:
        self.connect()  # type: ignore[attr-defined]
        return self
