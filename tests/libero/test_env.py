"""The LIBERO env behind the language-motion contract, on the real simulator."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from cliprt_envs import default_vocabulary
from cliprt_envs.language_env import InvalidEnvOptionError
from cliprt_envs.libero.suites import LIBERO_SUITES, libero_suite

from .conftest import SPATIAL


def test_ids_are_registered_with_official_limits():
    for suite in LIBERO_SUITES:
        spec = gym.spec(suite.env_id)
        assert spec.kwargs == {"suite": suite.name}
        assert spec.max_episode_steps == suite.max_control_steps
    assert [libero_suite(n).max_control_steps for n in ("spatial", "object", "goal", "10", "90")] == [220, 280, 300, 520, 400]


def test_check_env(libero_env):
    check_env(libero_env.unwrapped, skip_render_check=True)


def test_observation_contract(libero_env):
    obs, info = libero_env.reset(options={"init_state_index": 7})
    assert set(obs) == {"image", "instruction", "proprio"}
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["instruction"] == "pick up the black bowl between the plate and the ramekin and place it on the plate"
    assert obs["proprio"].shape == (8,) and obs["proprio"][7] > 0.8  # open after the settle steps
    assert info["init_state_index"] == 7 and info["control_steps"] == 0 and not info["is_success"]
    assert libero_env.action_space.n == len(default_vocabulary())


def test_fixed_init_states_repeat_exactly(libero_env):
    first = libero_env.reset(options={"init_state_index": 2})[0]
    libero_env.step("move the arm to the left by 5 centimeters")
    again = libero_env.reset(options={"init_state_index": 52})[0]  # 52 % 50 == 2
    np.testing.assert_allclose(first["proprio"], again["proprio"], atol=1e-6)


POSITION_MOTIONS = [
    ("move the arm to the left by 5 centimeters", 1, 0.05),
    ("move the arm to the right by 5 centimeters", 1, -0.05),
    ("move the arm forward by 5 centimeters", 0, 0.05),
    ("move the arm back by 5 centimeters", 0, -0.05),
    ("raise the arm up by 5 centimeters", 2, 0.05),
    ("lower the arm by 5 centimeters", 2, -0.05),
]
ROTATION_MOTIONS = [
    ("roll arm 15 degrees clockwise", 3),
    ("tilt arm down 15 degrees", 4),
    ("yaw arm 15 degrees clockwise", 5),
    ("rotate the gripper 15 degrees clockwise", 6),
]


def test_each_axis_moves_in_its_direction_by_about_its_magnitude(libero_env):
    libero_env.reset(options={"init_state_index": 0})
    for text, axis, metres in POSITION_MOTIONS:
        _, _, _, _, info = libero_env.step(text)
        achieved = info["achieved_delta"]
        assert info["commanded_delta"][axis] == pytest.approx(metres), text
        assert achieved[axis] == pytest.approx(metres, abs=0.012), (text, achieved)
        assert np.linalg.norm(np.delete(achieved[:3], axis)) < 0.015, (text, achieved)
    for text, axis in ROTATION_MOTIONS:
        _, _, _, _, info = libero_env.step(text)
        assert info["achieved_delta"][axis] == pytest.approx(np.radians(15), abs=np.radians(4)), (text, info["achieved_delta"])
        assert 0 < info["motion_control_steps"] <= 50


def test_gripper_closes_and_opens(libero_env):
    libero_env.reset(options={"init_state_index": 0})
    obs, _, _, _, info = libero_env.step("close the gripper")
    assert info["achieved_delta"][7] < -0.5 and obs["proprio"][7] < 0.3
    obs, _, _, _, info = libero_env.step("open the gripper")
    assert info["achieved_delta"][7] > 0.5 and obs["proprio"][7] > 0.8


def test_save_and_restore_state(libero_env):
    libero_env.reset(options={"init_state_index": 1})
    state = libero_env.unwrapped.save_state()
    after = libero_env.step("move the arm forward by 5 centimeters")[0]
    libero_env.unwrapped.restore_state(state)
    again = libero_env.step("move the arm forward by 5 centimeters")[0]
    np.testing.assert_allclose(after["proprio"], again["proprio"], atol=1e-3)  # exact_state is False: see the backend


def test_bad_options_are_refused_before_libero_starts():
    with pytest.raises(InvalidEnvOptionError, match="task_index"):
        gym.make(SPATIAL, task_index=10)
    with pytest.raises(InvalidEnvOptionError, match="camera"):
        gym.make(SPATIAL, camera="front")
    with pytest.raises(TypeError, match="did you mean 'task_index'"):
        gym.make(SPATIAL, task_idx=1)


def test_hard_reset_gives_the_same_initial_state_as_the_default_soft_reset(libero_env):
    soft = libero_env.reset(options={"init_state_index": 4})[0]
    hard_env = gym.make(SPATIAL, task_index=0, image_size=64, hard_reset=True)
    try:
        hard = hard_env.reset(options={"init_state_index": 4})[0]
        np.testing.assert_allclose(hard["proprio"], soft["proprio"], atol=1e-4)
        info = hard_env.step("raise the arm up by 5 centimeters")[4]  # the robot objects are new after a hard reset
        assert info["achieved_delta"][2] == pytest.approx(0.05, abs=0.012)
    finally:
        hard_env.close()
