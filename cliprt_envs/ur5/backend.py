"""The real UR5 as a :class:`~cliprt_envs.protocols.RobotBackend`, over ``ur_rtde``.

Every step goes through :class:`~cliprt_envs.ur5.safety.SafetyGuard` (refuse,
clamp, plan) and the controller's own checks (``isPoseWithinSafetyLimits``,
``getInverseKinematicsHasSolution``) before the arm moves. Moves are sent
asynchronously and watched: a protective or emergency stop, a safety mode
other than normal, a lost connection or an overrun stops the arm
(``stopL``/``servoStop``) and latches a fault; no move is sent again until
:meth:`UR5Backend.recover` (called by the env's ``reset``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import numpy as np

from cliprt_envs.protocols import BackendContext, MoveResult
from cliprt_envs.rotations import matrix_to_quat_wxyz, matrix_to_rotvec
from cliprt_envs.ur5 import safety
from cliprt_envs.ur5.config import RobotConfig
from cliprt_envs.ur5.connection import Session, UR5Drivers, open_session, real_drivers
from cliprt_envs.ur5.gripper import DigitalOutputGripper, GripperFault, NoGripper, RobotiqSocketGripper
from cliprt_envs.ur5.safety import PlannedMove, RobotStatus, SafetyGuard, fault_of, ramp_time

log = logging.getLogger(__name__)
POLL_S = 0.004


class RobotNotReady(RuntimeError):
    """The robot cannot start an episode (stopped, not running); the message says what a person must do."""


class UR5Backend(BackendContext):
    """Drives one UR5/UR5e; ``drivers`` defaults to the real ``ur_rtde`` classes (doubles in tests)."""

    exact_state = False

    def __init__(self, config: RobotConfig, max_step: np.ndarray, drivers: UR5Drivers | None = None) -> None:
        self.config = config
        self.workspace = config.workspace
        self.guard = SafetyGuard(config, max_step)
        self._drivers = drivers
        self.session: Session | None = None
        self.gripper: Any = None
        self.fault = ""  # latched until recover()
        self._pose = np.zeros(6)  # the last pose read, robot base frame
        self._opening = 1.0

    # -- connection ------------------------------------------------------------
    def connect(self) -> None:
        """Connect in bounded time, set TCP and payload, connect the gripper; a clear error otherwise."""
        if self.session is not None:
            return
        drivers = self._drivers or real_drivers()
        self.session = open_session(self.config, drivers, need_io=self.config.gripper.kind == "digital")
        try:
            control = self.session.control
            control.setTcp(list(self.config.tcp_offset))
            control.setPayload(float(self.config.payload_kg), list(self.config.payload_cog))
            self.gripper = self._make_gripper(drivers)
            self.gripper.connect()
            self._pose = np.asarray(self.session.receive.getActualTCPPose(), dtype=np.float64)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the arm and the script and disconnect; safe to call twice, never raises."""
        session, self.session = self.session, None
        gripper, self.gripper = self.gripper, None
        if gripper is not None:
            try:
                gripper.close()
            except Exception as exc:  # closing goes on
                log.warning("closing the gripper: %s", exc)
        if session is not None:
            for problem in session.close():
                log.warning("closing the UR5 connection: %s", problem)

    def recover(self) -> None:
        """Before an episode: reconnect if the connection was lost, clear the latch if the robot is healthy."""
        if self.health() == safety.DISCONNECTED:
            self.close()
            self.connect()
        fault = self.health()
        if fault:
            raise RobotNotReady(
                f"the robot reports {fault}: clear it on the teach pendant (release the emergency stop, "
                "unlock the protective stop, close pop-ups), then reset() again"
            )
        if self.gripper is not None and self.gripper.fault():
            raise RobotNotReady(f"{self.gripper.fault()}; then reset() again")
        self.fault = ""

    def health(self) -> str:
        """``""``, or the reason the robot must not move (see :func:`~cliprt_envs.ur5.safety.fault_of`)."""
        session = self.session
        if session is None:
            return safety.DISCONNECTED
        receive = session.receive
        try:
            if not (receive.isConnected() and session.control.isConnected()):
                return safety.DISCONNECTED
            status = RobotStatus(True, receive.getSafetyMode(), receive.isProtectiveStopped(), receive.isEmergencyStopped())
        except RuntimeError:
            return safety.DISCONNECTED
        return fault_of(status)

    # -- protocol --------------------------------------------------------------
    def robot_pose(self) -> np.ndarray:
        """``[x, y, z, rx, ry, rz]`` in the robot base frame (the last one read when disconnected)."""
        if self.session is not None:
            with contextlib.suppress(RuntimeError):  # a dropped connection: keep the last pose
                self._pose = np.asarray(self.session.receive.getActualTCPPose(), dtype=np.float64)
        return self._pose.copy()

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        position, rotation = self.guard.to_vocabulary(self.robot_pose())
        return position, matrix_to_quat_wxyz(rotation)

    def gripper_opening(self) -> float:
        return self._opening

    def move(self, delta: np.ndarray) -> MoveResult:
        delta = np.asarray(delta, dtype=np.float64)
        refusal = self.guard.refusal(delta)
        if self.fault:
            refusal = f"the episode ended on {self.fault}; reset() first"
        if not refusal:
            fault = self.health()
            if fault:
                return self._nothing_done(refused="", fault=self._halt(fault))
        if refusal:
            return self._nothing_done(refused=refusal, fault=self.fault)
        pose0, open0 = self.robot_pose(), self._opening
        plan = self.guard.plan(pose0, delta)
        refused, ik_failed, fault = "", False, ""
        try:
            if np.any(np.abs(plan.commanded[:7]) > 1e-9):
                refused, ik_failed = self._controller_refusal(plan)
                if not refused:
                    fault = self._execute(pose0, plan)
            if not (refused or fault) and delta[7] != 0:
                fault = self._actuate_gripper(delta[7] > 0)
        except RuntimeError as exc:  # ur_rtde raises on a dropped connection
            log.warning("UR5 driver error during a move: %s", exc)
            fault = self.health() or safety.DISCONNECTED
        if fault:
            self._halt(fault)
        commanded = np.zeros(8) if refused else plan.commanded
        return MoveResult(
            commanded=commanded,
            achieved=self._achieved(pose0, open0),
            ik_failed=ik_failed,
            extra={
                "workspace_clamped": plan.clamped and not refused,
                "refused": refused,
                "fault": fault,
                "planned_duration_s": 0.0 if refused else plan.duration_s,
            },
        )

    def save_state(self) -> np.ndarray:
        """``[6 joint angles, gripper opening]``: a pose to go back to (see :meth:`restore_state`)."""
        q = self.session.receive.getActualQ() if self.session is not None else [np.nan] * 6
        return np.concatenate([np.asarray(q, dtype=np.float64), [self._opening]])

    def restore_state(self, state: np.ndarray) -> None:
        """Move back (joint move at the homing speed) to a state saved in this episode; the scene is not restored."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (7,) or not np.all(np.isfinite(state)):
            raise ValueError(f"a UR5 state is 6 joint angles and a gripper opening, got {state!r}")
        self._require_ready()
        pose = np.asarray(self.session.control.getForwardKinematics(list(state[:6]), list(self.config.tcp_offset)))
        position, _ = self.guard.to_vocabulary(pose)
        if not self.workspace.contains(position, tol=1e-3):
            raise ValueError(f"the saved pose {np.round(position, 3).tolist()} is outside the workspace box; not moving")
        self.move_joints(state[:6])
        if abs(state[6] - self._opening) > 0.5:
            fault = self._actuate_gripper(state[6] > 0.5)
            if fault:
                raise RobotNotReady(f"restoring the gripper failed: {fault}")

    # -- episode helpers used by the env -----------------------------------------
    def go_home(self) -> None:
        """Joint move to the config's home pose at the homing speed, and activate and open the gripper."""
        self._require_ready()
        self.move_joints(self.config.home_joints)
        try:
            self.gripper.activate()
            self.gripper.set_open(True)  # episodes start open, as on the twin
            self._opening = self.gripper.opening()
        except GripperFault as exc:
            raise RobotNotReady(f"the gripper did not activate: {exc}") from None

    def move_joints(self, q: np.ndarray) -> None:
        """``moveJ`` at the homing speed, watched like every move; a fault raises :class:`RobotNotReady`."""
        limits = self.config.limits
        control = self.session.control
        q0 = np.asarray(self.session.receive.getActualQ(), dtype=np.float64)
        travel = float(np.max(np.abs(np.asarray(q) - q0)))
        duration = ramp_time(travel, limits.joint_speed, limits.home_joint_acceleration)
        control.moveJ(list(map(float, q)), limits.joint_speed, limits.home_joint_acceleration, True)
        fault = self._watch(duration) or self.health()
        if fault:
            self._halt(fault)
            raise RobotNotReady(f"the joint move stopped: {fault}; clear it on the teach pendant, then reset()")

    def halt(self, reason: str) -> str:
        """Stop the arm now and latch ``reason`` (the env calls this for camera and other faults)."""
        return self._halt(reason)

    # -- internals ---------------------------------------------------------------
    def _require_ready(self) -> None:
        if self.session is None:
            raise RobotNotReady("the UR5 is not connected; reset() reconnects")

    def _make_gripper(self, drivers: UR5Drivers) -> Any:
        kind = self.config.gripper.kind
        if kind == "robotiq":
            return RobotiqSocketGripper(self.config.host, self.config.gripper, drivers.gripper_socket)
        if kind == "digital":
            return DigitalOutputGripper(self.session.io, self.config.gripper)
        return NoGripper()

    def _controller_refusal(self, plan: PlannedMove) -> tuple[str, bool]:
        control, pose = self.session.control, list(map(float, plan.pose))
        if not control.isPoseWithinSafetyLimits(pose):
            return "the target is outside the controller's safety limits", False
        q_near = list(map(float, self.session.receive.getActualQ()))
        if not control.getInverseKinematicsHasSolution(pose, q_near):
            return "the target has no inverse-kinematics solution", True
        return "", False

    def _execute(self, pose0: np.ndarray, plan: PlannedMove) -> str:
        control = self.session.control
        if self.config.motion_mode == "servoL":
            return self._stream(pose0, plan)
        speed, acceleration = self.guard.moveL_speed(plan)
        if not control.moveL(list(map(float, plan.pose)), speed, acceleration, True):
            return self.health() or safety.MOVE_FAILED
        return self._watch(plan.duration_s) or self.health()

    def _stream(self, pose0: np.ndarray, plan: PlannedMove) -> str:
        control, servo = self.session.control, self.config.servo
        fault = ""
        for i, pose in enumerate(self.guard.servo_waypoints(pose0, plan)):
            start = control.initPeriod()
            control.servoL(list(map(float, pose)), 0.0, 0.0, servo.period_s, servo.lookahead_s, servo.gain)
            if i % 5 == 4:
                fault = self.health()
                if fault:
                    break
            control.waitPeriod(start)
        control.servoStop(self.config.limits.max_linear_acceleration * 4)
        if fault:
            return fault
        deadline = time.monotonic() + self.config.limits.move_timeout_margin_s
        while not control.isSteady():
            if time.monotonic() > deadline:
                return safety.MOVE_TIMEOUT
            time.sleep(POLL_S)
        return self.health()

    def _watch(self, planned_s: float) -> str:
        """Wait for the asynchronous move to end, checking health; ``""`` or the fault."""
        control = self.session.control
        deadline = time.monotonic() + planned_s * 1.5 + self.config.limits.move_timeout_margin_s
        while control.getAsyncOperationProgress() >= 0:
            fault = self.health()
            if fault:
                return fault
            if time.monotonic() > deadline:
                return safety.MOVE_TIMEOUT
            time.sleep(POLL_S)
        return ""

    def _actuate_gripper(self, open_: bool) -> str:
        try:
            self.gripper.set_open(open_)
            self._opening = self.gripper.opening()
        except GripperFault as exc:
            log.warning("gripper: %s", exc)
            return safety.GRIPPER_FAULT
        return ""

    def _halt(self, fault: str) -> str:
        """Stop whatever moves (each stop tried even if another fails) and latch ``fault``."""
        self.fault = self.fault or fault
        session = self.session
        if session is not None:
            for stop in (lambda: session.control.servoStop(4.0), lambda: session.control.stopL(4.0, False)):
                try:
                    stop()
                except Exception as exc:  # a lost connection cannot stop anything; the controller's own
                    log.warning("stopping after %s: %s", fault, exc)  # watchdog does (see README)
        return self.fault

    @staticmethod
    def _nothing_done(refused: str, fault: str) -> MoveResult:
        return MoveResult(
            commanded=np.zeros(8),
            achieved=np.zeros(8),
            extra={"workspace_clamped": False, "refused": refused, "fault": fault, "planned_duration_s": 0.0},
        )

    def _achieved(self, pose0: np.ndarray, open0: float) -> np.ndarray:
        p0, r0 = self.guard.to_vocabulary(pose0)
        p1, r1 = self.guard.to_vocabulary(self.robot_pose())
        achieved = np.zeros(8)
        achieved[:3] = p1 - p0
        achieved[3:6] = matrix_to_rotvec(r1 @ r0.T)
        local = r0.T @ r1  # the tool's own turn about its z axis
        achieved[6] = float(np.arctan2(local[1, 0], local[0, 0]))
        achieved[7] = self._opening - open0
        return achieved
