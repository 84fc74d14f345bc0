"""The safety layer: every target is planned and checked here before the arm moves.

What it does: clamps each step's target into the workspace box (vocabulary
frame), refuses deltas that are not finite or larger than the vocabulary's
largest primitive, converts the step into a robot-base pose with the
configured frame, plans the move's duration from the speed limits, and turns
the controller's status (safety mode, protective or emergency stop, a lost
connection) into the reason an episode ends. The controller's own checks
(``isPoseWithinSafetyLimits``, ``getInverseKinematicsHasSolution``) are asked
by the backend with the pose planned here.

What it does not do: it does not see obstacles, people or objects (only the
box), it does not replace the robot's safety configuration (joint and TCP
limits, planes, stopping times set in Polyscope), and it cannot stop a move
faster than the controller's own stop (``stopL``/``servoStop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cliprt_envs.rotations import matrix_to_rotvec, rotation_about, rotvec_to_matrix
from cliprt_envs.ur5.config import RobotConfig

#: UR safety modes (``RTDEReceiveInterface.getSafetyMode``).
SAFETY_MODES: dict[int, str] = {
    1: "normal",
    2: "reduced",
    3: "protective_stop",
    4: "recovery",
    5: "safeguard_stop",
    6: "system_emergency_stop",
    7: "robot_emergency_stop",
    8: "violation",
    9: "fault",
    10: "validate_joint_id",
    11: "undefined",
    12: "automatic_mode_safeguard_stop",
    13: "system_three_position_enabling_stop",
}
SAFETY_NORMAL = 1
ROBOT_MODE_RUNNING = 7

# Reasons an episode ends (info["fault"]).
PROTECTIVE_STOP = "protective_stop"
EMERGENCY_STOP = "emergency_stop"
DISCONNECTED = "rtde_disconnected"
CAMERA_TIMEOUT = "camera_timeout"
GRIPPER_FAULT = "gripper_fault"
MOVE_TIMEOUT = "move_timeout"
MOVE_FAILED = "move_failed"


@dataclass(frozen=True)
class RobotStatus:
    """What the controller reports about its health."""

    connected: bool
    safety_mode: int = SAFETY_NORMAL
    protective_stopped: bool = False
    emergency_stopped: bool = False


def fault_of(status: RobotStatus) -> str:
    """The reason to end the episode for this status, or ``""`` when all is well."""
    if not status.connected:
        return DISCONNECTED
    if status.emergency_stopped or status.safety_mode in (6, 7):
        return EMERGENCY_STOP
    if status.protective_stopped or status.safety_mode == 3:
        return PROTECTIVE_STOP
    if status.safety_mode != SAFETY_NORMAL:
        return f"safety_mode_{SAFETY_MODES.get(status.safety_mode, status.safety_mode)}"
    return ""


@dataclass(frozen=True)
class PlannedMove:
    """One checked step: the robot-base target pose, what is commanded, and the time it should take."""

    pose: np.ndarray  # [x, y, z, rx, ry, rz], robot base frame
    commanded: np.ndarray  # 8-D, vocabulary frame, after the clamp
    clamped: bool
    distance: float  # metres of the tool-centre point
    angle: float  # radians of the tool
    duration_s: float


def ramp_time(length: float, speed: float, acceleration: float) -> float:
    """Time of a trapezoidal (or triangular) velocity profile over ``length``."""
    if length <= 0:
        return 0.0
    ramp = speed * speed / acceleration  # distance spent speeding up and slowing down
    if length <= ramp:
        return 2.0 * math.sqrt(length / acceleration)
    return 2.0 * speed / acceleration + (length - ramp) / speed


class SafetyGuard:
    """Checks and plans steps for one robot config; ``max_step`` is the largest allowed 8-D delta."""

    def __init__(self, config: RobotConfig, max_step: np.ndarray) -> None:
        self.config = config
        self.max_step = np.asarray(max_step, dtype=np.float64)
        self.robot_from_vocabulary = config.frame.robot_from_vocabulary()

    # -- frames ---------------------------------------------------------------
    def to_vocabulary(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position (3,) and rotation (3, 3) in the vocabulary frame, from a robot-base pose."""
        pose = np.asarray(pose, dtype=np.float64)
        r = self.robot_from_vocabulary
        return r.T @ pose[:3], r.T @ rotvec_to_matrix(pose[3:6])

    def to_robot(self, position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
        r = self.robot_from_vocabulary
        return np.concatenate([r @ position, matrix_to_rotvec(r @ rotation)])

    # -- checks ---------------------------------------------------------------
    def refusal(self, delta: np.ndarray) -> str:
        """Why ``delta`` must not be executed at all, or ``""``."""
        delta = np.asarray(delta, dtype=np.float64)
        if delta.shape != (8,):
            return f"a step is an 8-D delta, got shape {delta.shape}"
        if not np.all(np.isfinite(delta)):
            return "the step has NaN or inf"
        over = np.abs(delta) > self.max_step + 1e-9
        if np.any(over):
            return f"the step {np.round(delta, 4).tolist()} exceeds the largest primitive {np.round(self.max_step, 4).tolist()}"
        return ""

    def plan(self, pose: np.ndarray, delta: np.ndarray) -> PlannedMove:
        """The target of ``delta`` from the robot-base ``pose``, clamped to the workspace."""
        delta = np.asarray(delta, dtype=np.float64)
        position, rotation = self.to_vocabulary(pose)
        dxyz, clamped = self.config.workspace.clamp_step(position, delta[:3])
        if not self.config.workspace.contains(position):
            # Outside the box already (e.g. after a manual jog): only steps that lead back are allowed.
            low, high = np.asarray(self.config.workspace.low), np.asarray(self.config.workspace.high)
            back = np.clip(position + delta[:3], np.minimum(position, low), np.maximum(position, high))
            dxyz, clamped = back - position, bool(np.any(np.abs(back - position - delta[:3]) > 1e-9))
        commanded = delta.copy()
        commanded[:3] = dxyz
        target_rotation = rotvec_to_matrix(commanded[3:6]) @ rotation @ rotation_about(2, commanded[6])
        angle = float(np.linalg.norm(matrix_to_rotvec(target_rotation @ rotation.T)))
        distance = float(np.linalg.norm(dxyz))
        limits = self.config.limits
        duration = max(
            ramp_time(distance, limits.linear_speed, limits.max_linear_acceleration),
            ramp_time(angle, limits.angular_speed, limits.max_angular_acceleration),
        )
        return PlannedMove(self.to_robot(position + dxyz, target_rotation), commanded, clamped, distance, angle, duration)

    def moveL_speed(self, move: PlannedMove) -> tuple[float, float]:
        """``(speed, acceleration)`` for ``moveL`` (a pure rotation: URScript reads them as rad/s, rad/s^2)."""
        limits = self.config.limits
        if move.distance < 1e-6 and move.angle > 0:
            return limits.angular_speed, limits.max_angular_acceleration
        return limits.linear_speed, limits.max_linear_acceleration

    def servo_waypoints(self, start: np.ndarray, move: PlannedMove) -> list[np.ndarray]:
        """Robot-base poses every ``servo.period_s`` along the move, none faster than the limits."""
        period = self.config.servo.period_s
        count = max(1, math.ceil(move.duration_s / period))
        p0, r0 = self.to_vocabulary(start)
        p1, r1 = self.to_vocabulary(move.pose)
        turn = matrix_to_rotvec(r1 @ r0.T)
        poses = [
            self.to_robot(p0 + (p1 - p0) * (i / count), rotvec_to_matrix(turn * (i / count)) @ r0) for i in range(1, count + 1)
        ]
        step = move.distance / count / period
        if step > self.config.limits.linear_speed * 1.05 + 1e-9:  # pragma: no cover - by construction
            raise RuntimeError(f"servo step speed {step:.3f} m/s exceeds the limit")
        return poses
