"""The robot config: loading, validation, and the error without one."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs
from cliprt_envs.ur5.config import EXAMPLE_CONFIG, FrameConfig, RobotConfig, load_robot_config, robot_config

TOML = """
host = "10.0.0.5"
home_joints_deg = [0, -90, 90, -90, -90, 0]
motion_mode = "servoL"
[workspace]
low = [0.3, -0.2, 0.05]
high = [0.7, 0.2, 0.4]
[camera]
serial = "123"
resize = [96, 128]
crop = [0, 80, 480, 480]
[limits]
speed_scale = 0.25
"""


def test_the_example_config_loads_and_is_complete():
    config = load_robot_config(EXAMPLE_CONFIG)
    assert isinstance(config, RobotConfig)
    assert config.gripper.kind == "robotiq" and config.gripper.port == 63352
    assert config.camera.resize == (224, 224)
    np.testing.assert_allclose(config.home_joints, np.radians([0, -90, 90, -90, -90, 0]))


def test_toml_loads_nested_sections_and_speed_scale(tmp_path):
    path = tmp_path / "robot.toml"
    path.write_text(TOML)
    config = load_robot_config(path)
    assert config.host == "10.0.0.5" and config.motion_mode == "servoL"
    assert config.camera.crop == (0, 80, 480, 480) and config.camera.resize == (96, 128)
    assert config.workspace.high == (0.7, 0.2, 0.4)
    assert config.limits.linear_speed == pytest.approx(0.025)
    assert config.with_speed_scale(0.5).limits.linear_speed == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"speeed": 1}, "unknown key.*speeed.*the keys are"),
        ({"limits": {"max_linear_speed": 2.0}}, "above 0.5 m/s"),
        ({"motion_mode": "teleport"}, "motion_mode must be one of"),
        ({"gripper": {"kind": "vacuum"}}, "gripper.kind must be one of"),
        ({"camera": {"crop": [0, 0, 600, 10]}}, "outside 480x640"),
        ({"frame": {"x": "y", "y": "x", "z": "z"}}, "not a right-handed rotation"),
        ({"workspace": {"low": [0, 0, 0]}}, "workspace needs high"),
    ],
)
def test_bad_configs_say_what_is_wrong(change, message):
    data = {"host": "h", "home_joints_deg": [0] * 6, "workspace": {"low": [0.3, -0.2, 0.05], "high": [0.7, 0.2, 0.4]}}
    data.update(change)
    with pytest.raises(ValueError, match=message):
        robot_config(data)


def test_the_frame_maps_vocabulary_axes_onto_the_base():
    r = FrameConfig(x="-y", y="x", z="z").robot_from_vocabulary()
    np.testing.assert_allclose(r @ [1, 0, 0], [0, -1, 0])  # "forward" is the base's -y
    np.testing.assert_allclose(r @ [0, 1, 0], [1, 0, 0])
    np.testing.assert_allclose(FrameConfig(yaw_deg=90).robot_from_vocabulary() @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_make_without_a_config_fails_at_once_saying_how_to_write_one():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"needs a robot config.*example_robot.yaml.*config='robot.yaml'"):
        gym.make("CLIPRT-UR5-v0")
    assert time.perf_counter() - start < 1.0


def test_a_missing_file_and_an_unknown_option_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no robot config at .*example_robot.yaml"):
        gym.make("CLIPRT-UR5-v0", config=tmp_path / "robot.yaml")
    with pytest.raises(TypeError, match="did you mean 'speed_scale'"):
        gym.make("CLIPRT-UR5-v0", config=EXAMPLE_CONFIG, sped_scale=0.5)
    with pytest.raises(ValueError, match=r"speed_scale is a fraction in \(0, 1\]"):
        gym.make("CLIPRT-UR5-v0", config=EXAMPLE_CONFIG, speed_scale=2)


def test_the_id_is_registered_without_a_step_limit_and_importing_stays_light():
    spec = gym.spec("CLIPRT-UR5-v0")
    assert spec.entry_point == "cliprt_envs.ur5.make:make_ur5_env" and spec.max_episode_steps is None
    assert "CLIPRT-UR5-v0" in cliprt_envs.registered_ids()
    import subprocess
    import sys

    code = (
        "import sys, cliprt_envs.ur5, cliprt_envs.ur5.make, cliprt_envs.ur5.cli;"
        "heavy = [m for m in ('mujoco', 'rtde_control', 'rtde_receive', 'pyrealsense2', 'torch') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
