"""A MuJoCo UR5 twin behind the ``ur_rtde``, ``pyrealsense2`` and Robotiq-socket APIs.

The real driver code (:mod:`cliprt_envs.ur5.backend`, ``camera``, ``gripper``)
runs unchanged against it: :meth:`UR5Twin.drivers` gives the ``ur_rtde``
doubles (:mod:`cliprt_envs.ur5.twin_rtde`), :meth:`UR5Twin.realsense` a
``pyrealsense2`` double that renders the twin's front camera
(:mod:`cliprt_envs.ur5.twin_realsense`), and the Robotiq gripper is a real TCP
server on localhost speaking the URCap protocol
(:mod:`cliprt_envs.ur5.twin_gripper`). Poses, IK answers and frames come from
the same MuJoCo model, so they agree with each other.

Faults are injected with :meth:`UR5Twin.inject` (see :data:`FAULTS`); a person
clearing them on the pendant is :meth:`UR5Twin.clear`. The twin's robot base
frame is turned ``base_yaw`` (default 180 degrees, as a UR's "Base" feature is
to ROS's ``base_link``) from the MuJoCo world, so the frame mapping of the
config is exercised too.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import threading
from typing import Any

import mujoco
import numpy as np

from cliprt_envs.protocols import Workspace
from cliprt_envs.rotations import matrix_to_rotvec, rotation_about, rotvec_to_matrix
from cliprt_envs.sim.backend import MujocoUR5Backend
from cliprt_envs.sim.kinematics import rotation_error
from cliprt_envs.sim.tasks.pick import PickTask
from cliprt_envs.ur5.config import CameraConfig, FrameConfig, GripperConfig, RobotConfig
from cliprt_envs.ur5.connection import UR5Drivers, probe_rtde

#: What :meth:`UR5Twin.inject` can do.
FAULTS = (
    "protective_stop",  # the next move stops halfway in a protective stop
    "emergency_stop",  # the next move stops halfway, e-stop pressed
    "disconnect",  # the next move stops halfway and the RTDE connection drops
    "silent_listener",  # the controller accepts TCP connections but never answers
    "camera_timeout",  # the camera delivers no more frames
    "frame_drop",  # the next frames are stale, then the stream skips ahead
    "gripper_fault",  # the Robotiq reports fault 0x05 on its next command
    "powered_off",  # robot mode POWER_OFF (the probe reports it)
)
SAFETY_NORMAL, SAFETY_PROTECTIVE, SAFETY_ROBOT_ESTOP = 1, 3, 7
ROBOT_RUNNING, ROBOT_POWER_OFF = 7, 3
TWIN_SERIAL = "TWIN-D435-0001"
TWIN_WRIST_SERIAL = "TWIN-D405-0002"


class UR5Twin:
    """One simulated robot cell; ``with UR5Twin() as twin:`` starts and stops its gripper server."""

    def __init__(self, seed: int = 0, base_yaw: float = math.pi, render_size: tuple[int, int] = (96, 128)) -> None:
        task = PickTask(image_size=render_size)
        self.sim = MujocoUR5Backend(task.scene())
        task.sample_initial_state(self.sim, np.random.default_rng(seed))  # objects on the table
        self.sim.data.qpos[self.sim.arm_qadr] = self.sim.home_qpos
        self.sim.data.ctrl[self.sim.arm_act] = self.sim.home_qpos
        self.sim.settle(20)
        self.lock = threading.RLock()
        self.base_from_world = rotation_about(2, -base_yaw)  # robot base frame <- MuJoCo world
        self.render_size = render_size
        self.connected = True
        self.epoch = 0  # counts dropped connections
        self.safety_mode = SAFETY_NORMAL
        self.robot_mode = ROBOT_RUNNING
        self.emergency = False
        self.armed: set[str] = set()
        self.camera_dead = False
        self.stale_frames = 0
        self.skip_frames = 0
        self.gripper_fault_code = 0
        self.limits_box: Workspace | None = None  # the controller's safety limits (robot frame); None: reach only
        self.reach_limit = 0.85  # metres from the base axis the controller accepts
        self.tcp_offset: list[float] = []
        self.payload: tuple[float, list[float]] = (0.0, [])
        self.calls: list[tuple[str, tuple[Any, ...]]] = []  # every driver call, for tests
        self.moves = 0
        self._silent: socket.socket | None = None
        self._silent_host = ""
        from cliprt_envs.ur5.twin_gripper import TwinRobotiqServer

        self.gripper_server = TwinRobotiqServer(self)

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> UR5Twin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> UR5Twin:
        return self  # one simulated cell, shared like a device (gym.make copies its kwargs)

    def close(self) -> None:
        self.gripper_server.close()
        if self._silent is not None:
            self._silent.close()
            self._silent = None

    # -- what tests and benchmarks use ----------------------------------------------
    def config(self, **overrides: Any) -> RobotConfig:
        """A robot config that matches this twin (host, home, frame, camera, gripper port)."""
        base = RobotConfig(
            host="127.0.0.1",
            home_joints_deg=tuple(float(v) for v in np.degrees(self.sim.home_qpos)),  # type: ignore[arg-type]
            workspace=Workspace(low=(0.30, -0.25, 0.03), high=(0.70, 0.25, 0.40)),
            frame=FrameConfig(x="-x", y="-y", z="z"),
            # fps 10: the twin renders as fast as it can, which a loaded test machine keeps above 8 fps
            camera=CameraConfig(
                serial=TWIN_SERIAL, width=self.render_size[1], height=self.render_size[0], fps=10, resize=(64, 64), timeout_s=0.3
            ),
            gripper=GripperConfig(kind="robotiq", port=self.gripper_server.port, timeout_s=2.0),
            instruction="pick up the red cube",
            connect_timeout_s=3.0,
        )
        return dataclasses.replace(base, **overrides)

    def drivers(self) -> UR5Drivers:
        """The ``ur_rtde`` doubles bound to this twin."""
        from cliprt_envs.ur5 import twin_rtde

        bind = {"twin": self}
        return UR5Drivers(
            control=type("RTDEControlInterface", (twin_rtde.TwinRTDEControl,), bind),
            receive=type("RTDEReceiveInterface", (twin_rtde.TwinRTDEReceive,), bind),
            io=type("RTDEIOInterface", (twin_rtde.TwinRTDEIO,), bind),
            dashboard=type("DashboardClient", (twin_rtde.TwinDashboardClient,), bind),
            probe=self.probe,
        )

    def realsense(self) -> Any:
        """A ``pyrealsense2`` double whose one camera renders this twin's front view."""
        from cliprt_envs.ur5.twin_realsense import TwinRealSense

        return TwinRealSense(self)

    def inject(self, fault: str) -> None:
        """Arm one of :data:`FAULTS`."""
        if fault not in FAULTS:
            raise ValueError(f"unknown twin fault {fault!r}; one of {', '.join(FAULTS)}")
        if fault in ("protective_stop", "emergency_stop", "disconnect"):
            self.armed.add(fault)
        elif fault == "silent_listener":
            self._open_silent_listener()
        elif fault == "camera_timeout":
            self.camera_dead = True
        elif fault == "frame_drop":
            self.stale_frames, self.skip_frames = 2, 3
        elif fault == "gripper_fault":
            self.gripper_fault_code = 5
        else:
            self.robot_mode = ROBOT_POWER_OFF

    def clear(self) -> None:
        """A person clears every fault on the pendant (unlock, release the e-stop, replug the cable)."""
        with self.lock:
            self.armed.clear()
            self.safety_mode, self.emergency, self.connected = SAFETY_NORMAL, False, True
            self.camera_dead, self.gripper_fault_code, self.robot_mode = False, 0, ROBOT_RUNNING
            if self._silent is not None:
                self._silent.close()
                self._silent = None

    def probe(self, host: str, timeout_s: float) -> tuple[int, int]:
        """The bounded probe: the real one against the silent listener when that fault is on."""
        self.calls.append(("probe", (host, timeout_s)))
        if self._silent is not None:
            return probe_rtde(self._silent_host, timeout_s)
        if not self.connected:
            raise ConnectionError(f"{host}:30004 refused or is unreachable (the twin is disconnected)")
        return self.robot_mode, self.safety_mode

    # -- kinematics in the robot base frame --------------------------------------------
    def tcp_pose(self) -> list[float]:
        with self.lock:
            pos, rot = self.sim.tcp_pose()[0], self.sim.tcp_rotation()
        r = self.base_from_world
        return [*(r @ pos), *matrix_to_rotvec(r @ rot)]

    def joints(self) -> list[float]:
        with self.lock:
            return [float(v) for v in self.sim.data.qpos[self.sim.arm_qadr]]

    def to_world(self, pose: list[float]) -> tuple[np.ndarray, np.ndarray]:
        r = self.base_from_world.T
        return r @ np.asarray(pose[:3], dtype=np.float64), r @ rotvec_to_matrix(pose[3:6])

    def ik(self, pose: list[float], q_near: list[float] | None = None) -> tuple[bool, list[float]]:
        position, rotation = self.to_world(pose)
        with self.lock:
            q0 = np.asarray(q_near, dtype=np.float64) if q_near else self.sim.data.qpos[self.sim.arm_qadr].copy()
            result = self.sim.kinematics.solve(q0, position, rotation)
        return bool(result.success), [float(v) for v in result.qpos]

    def fk(self, q: list[float]) -> list[float]:
        with self.lock:
            pos, rot = self.sim.kinematics.forward(np.asarray(q, dtype=np.float64))
        r = self.base_from_world
        return [*(r @ pos), *matrix_to_rotvec(r @ rot)]

    def within_limits(self, pose: list[float]) -> bool:
        """The controller's safety limits: reach (IK) and, when set, ``limits_box`` in the robot frame."""
        if self.limits_box is not None and not self.limits_box.contains(np.asarray(pose[:3])):
            return False
        return float(np.linalg.norm(pose[:3])) < self.reach_limit

    # -- motion (called by the ur_rtde doubles) --------------------------------------------
    def move_linear(self, pose: list[float]) -> bool:
        """Go to ``pose`` in a straight line; an armed fault stops it halfway. False if refused."""
        with self.lock:
            if not self.connected or self.safety_mode != SAFETY_NORMAL:
                return False
            self.moves += 1
            position, rotation = self.to_world(pose)
            pos0, rot0 = self.sim.tcp_pose()[0], self.sim.tcp_rotation()
            delta = np.zeros(8)
            delta[:3] = position - pos0
            delta[3:6] = rotation_error(rot0, rotation)
            fault = next(iter(sorted(self.armed)), "")
            if fault:
                delta[:6] *= 0.5
            self.sim.move(delta)
            if fault:
                self._trip(fault)
            return True

    def move_joints(self, q: list[float]) -> bool:
        """Joint move by stiff servos along a straight joint path."""
        with self.lock:
            if not self.connected or self.safety_mode != SAFETY_NORMAL:
                return False
            sim, target = self.sim, np.asarray(q, dtype=np.float64)
            q0 = sim.data.qpos[sim.arm_qadr].copy()
            steps = max(1, math.ceil(float(np.max(np.abs(target - q0))) / 0.05))
            for i in range(1, steps + 1):
                sim.data.ctrl[sim.arm_act] = q0 + (target - q0) * i / steps
                mujoco.mj_step(sim.model, sim.data, nstep=16)
            sim.settle(150)
            return True

    def actuate_gripper(self, open_: bool) -> None:
        with self.lock:
            self.sim.move(np.array([0, 0, 0, 0, 0, 0, 0, 1.0 if open_ else -1.0]))

    def gripper_opening(self) -> float:
        with self.lock:
            return self.sim.gripper_opening()

    def _trip(self, fault: str) -> None:
        self.armed.discard(fault)
        if fault == "protective_stop":
            self.safety_mode = SAFETY_PROTECTIVE
        elif fault == "emergency_stop":
            self.safety_mode, self.emergency = SAFETY_ROBOT_ESTOP, True
        else:
            self.connected = False
            self.epoch += 1

    def _open_silent_listener(self) -> None:
        """A real socket on 127.0.0.x:30004 that accepts connections (the kernel does) and never answers."""
        for last in range(2, 250):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((f"127.0.0.{last}", 30004))
            except OSError:
                sock.close()
                continue
            sock.listen(8)
            self._silent, self._silent_host = sock, f"127.0.0.{last}"
            return
        raise RuntimeError("no free loopback address for the silent listener")
