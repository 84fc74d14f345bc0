"""The real UR5 behind the language-motion env: ``gym.make("CLIPRT-UR5-v0", config="robot.yaml")``.

The arm is driven through ``ur_rtde`` (RTDE control, receive and IO, and the
dashboard), the camera through ``pyrealsense2``, a Robotiq 2F-85 through its
URCap socket (or a gripper on a digital output). Every target passes the
safety layer (:mod:`cliprt_envs.ur5.safety`) before the arm moves.

Importing this package imports neither ``ur_rtde`` nor ``pyrealsense2``; they
load when an env is made. :mod:`cliprt_envs.ur5.twin` puts the same driver
code in front of the MuJoCo twin, for tests and benchmarks without hardware.
"""

from __future__ import annotations

from cliprt_envs.ur5.config import RobotConfig, load_robot_config

__all__ = ["RobotConfig", "load_robot_config"]
