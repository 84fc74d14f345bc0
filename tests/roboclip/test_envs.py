"""The policy's observations: the twin's state vector and Meta-World's state + time feature, frames flipped upright."""

import numpy as np
import pytest

pytest.importorskip("mujoco")

from cliprt_agents.roboclip.sim_state import INSTRUCTION_DIM, make_sim_state_env


def test_twin_state_has_pose_scene_instruction_and_time():
    from cliprt_envs.language_env import expert_action

    env = make_sim_state_env("OpenDrawer", render_size=32)
    try:
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        assert obs[-1] == 0.0
        scene = slice(8, len(obs) - INSTRUCTION_DIM - 1)
        before = obs[scene].copy()
        for _ in range(12):
            obs, _, terminated, _, info = env.step(expert_action(env))
            if terminated:
                break
        assert info["is_success"]
        assert obs[-1] == pytest.approx(env.unwrapped.elapsed_steps / 30)  # t / the task's step limit
        assert np.abs(obs[scene] - before).max() > 0.05  # the drawer joint moved with the expert
        np.testing.assert_allclose(obs[:3], env.unwrapped.proprio()[:3], atol=1e-6)
    finally:
        env.close()


def test_meta_world_state_time_feature_and_upright_frames():
    pytest.importorskip("metaworld")
    import gymnasium as gym

    from cliprt_agents.roboclip.metaworld_envs import make_metaworld_env

    env = make_metaworld_env("button-press", camera="corner2", width=32, height=24, episode_steps=4, seed=0)
    view = {"render_mode": "rgb_array", "camera_name": "corner2", "width": 32, "height": 24}
    raw = gym.make("Meta-World/MT1", env_name="button-press-v3", seed=0, **view)
    try:
        obs, _ = env.reset(seed=0)
        raw.reset(seed=0)
        assert obs.shape == (40,) and obs[-1] == 0.0
        assert env.observation_space.contains(obs)  # also the goal dims Meta-World declares as [0, 0]
        np.testing.assert_array_equal(env.render(), raw.render()[::-1])
        for _ in range(4):
            obs, _, _, truncated, _ = env.step(env.action_space.sample())
        assert truncated and obs[-1] == 1.0 and env.observation_space.contains(obs)
    finally:
        env.close()
        raw.close()
    with pytest.raises(ValueError, match="unknown Meta-World task"):
        make_metaworld_env("drawer-teleport", render=False)
