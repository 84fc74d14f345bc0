"""The PPO baseline and the instruction-to-vector features SB3 needs."""

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401
from cliprt_agents.baselines.features import instruction_matrix, instruction_vector

PICK = "CLIPRT-UR5Sim-Pick-v0"


def test_instruction_vectors_are_stable_and_discriminative():
    a = instruction_vector("pick up the red cube")
    assert a.shape == (64,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, instruction_vector("Pick up the RED cube."))
    assert abs(np.linalg.norm(a) - 1) < 1e-6
    b = instruction_vector("pick up the blue cube")
    assert not np.allclose(a, b)
    assert instruction_matrix(["x", "y z"], dim=16).shape == (2, 16)
    assert not instruction_vector("").any()
    with pytest.raises(ValueError):
        instruction_vector("x", dim=2)


def test_vector_observation_wrapper_passes_env_checker():
    from gymnasium.utils.env_checker import check_env

    from cliprt_agents.baselines.ppo import VectorObservation

    env = VectorObservation(gym.make(PICK, image_size=48), image_size=32, text_dim=16)
    try:
        check_env(env.unwrapped)
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        assert obs["image"].shape == (32, 32, 3) and obs["instruction"].shape == (16,)
    finally:
        env.close()


@pytest.mark.slow
def test_ppo_trains_saves_and_acts(tmp_path):
    from cliprt_agents.baselines.ppo import PPOAgent, PPOConfig, train_ppo

    cfg = PPOConfig(env_ids=(PICK,), total_timesteps=64, n_envs=1, n_steps=32, batch_size=32, render_size=48, image_size=36)
    path = train_ppo(cfg, tmp_path / "ppo", progress=False)
    agent = PPOAgent(path)
    env = gym.make(PICK, image_size=48)
    try:
        obs, _ = env.reset(seed=0)
        action = agent.act(obs)
        assert env.action_space.contains(action)
        batch = {k: np.stack([obs[k]] * 3) if k != "instruction" else (obs[k],) * 3 for k in obs}
        acts = agent.act(batch)
        assert acts.shape == (3,) and len(set(acts.tolist())) == 1  # deterministic, same input
        probs = agent.scores(batch)
        assert probs.shape == (3, 58) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
        env.step(action)
    finally:
        env.close()


def test_ppo_bad_checkpoint_is_a_clear_error(tmp_path):
    from cliprt_agents.baselines.ppo import PPOAgent

    with pytest.raises(FileNotFoundError, match="not a PPO checkpoint"):
        PPOAgent(tmp_path)


def test_ppo_refuses_images_too_small_for_its_cnn():
    from cliprt_agents.baselines.configs import MIN_IMAGE_SIZE, PPOConfig

    with pytest.raises(ValueError, match=f">= {MIN_IMAGE_SIZE}"):
        PPOConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), image_size=32)
    assert PPOConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), image_size=MIN_IMAGE_SIZE).image_size == MIN_IMAGE_SIZE
