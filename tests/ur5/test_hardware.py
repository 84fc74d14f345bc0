"""Against a real UR5: only when CLIPRT_UR5_HOST is set (and CLIPRT_UR5_CONFIG names its robot config).

The arm moves 2 cm down and back at a quarter of the configured speed; keep
the workspace clear and a hand on the emergency stop.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401

HOST = os.environ.get("CLIPRT_UR5_HOST", "")
CONFIG = os.environ.get("CLIPRT_UR5_CONFIG", "")
pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(not HOST, reason="no real UR5: set CLIPRT_UR5_HOST (and CLIPRT_UR5_CONFIG=robot.yaml) to run"),
]


def test_the_doctor_passes_on_the_real_cell():
    from cliprt_envs.ur5.config import load_robot_config
    from cliprt_envs.ur5.doctor import run_doctor

    config = load_robot_config(CONFIG) if CONFIG else None
    checks = run_doctor(HOST, None, config)
    assert all(c.ok for c in checks), "\n".join(c.line() for c in checks)


@pytest.mark.skipif(not CONFIG, reason="moving the real arm needs CLIPRT_UR5_CONFIG=robot.yaml")
def test_a_small_move_down_and_up_on_the_real_arm():
    with gym.make("CLIPRT-UR5-v0", config=CONFIG, speed_scale=0.25) as env:
        obs, info = env.reset(options={"instruction": "hardware test"})
        assert env.observation_space.contains(obs) and info["fault"] == ""
        z0 = obs["proprio"][2]
        obs, _, _, truncated, info = env.step("lower the arm by 2 centimeters")
        assert not truncated and info["fault"] == "", info
        assert obs["proprio"][2] == pytest.approx(z0 - 0.02, abs=0.003)
        obs, _, _, truncated, info = env.step("raise the arm by 2 centimeters")
        assert not truncated and np.isclose(obs["proprio"][2], z0, atol=0.003)
