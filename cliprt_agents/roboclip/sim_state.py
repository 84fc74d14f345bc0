"""A state observation of the MuJoCo twin for RL policies (images are for the reward only).

The vector is the tool pose and gripper (``proprio``, 8 values), where the
scene's movable things are (the backend's ``scene_signature``: free bodies'
positions, drawer and lid joints), a hashed bag-of-words of the instruction
(which object is meant) and the time feature ``t / step limit``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

INSTRUCTION_DIM = 16


class SimStateObservation(gym.ObservationWrapper):
    """``{"image", "instruction", "proprio"}`` -> one float32 vector (proprio, scene state, instruction, time)."""

    def __init__(self, env: gym.Env, max_steps: int | None = None, instruction_dim: int = INSTRUCTION_DIM) -> None:
        super().__init__(env)
        backend = getattr(env.unwrapped, "backend", None)
        if backend is None or not hasattr(backend, "scene_signature"):
            raise ValueError("SimStateObservation needs a MuJoCo twin env (CLIPRT-UR5Sim-*): its backend exposes the scene state")
        self.max_steps = int(max_steps or (env.spec.max_episode_steps if env.spec else 0) or 50)
        self.instruction_dim = instruction_dim
        size = 8 + len(backend.scene_signature()) + instruction_dim + 1
        self.observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        from cliprt_agents.baselines.features import instruction_vector

        base = self.env.unwrapped
        return np.concatenate(
            [
                np.asarray(observation["proprio"], dtype=np.float32),
                np.asarray(base.backend.scene_signature(), dtype=np.float32),
                instruction_vector(observation["instruction"], self.instruction_dim),
                np.array([base.elapsed_steps / self.max_steps], dtype=np.float32),
            ]
        ).astype(np.float32)


def make_sim_state_env(task: str, *, render_size: int = 64, camera: str = "front", reward_type: str = "sparse") -> gym.Env:
    """A twin task with the state observation; ``render()`` gives the ``camera`` frame (for the reward)."""
    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_agents.roboclip.record import sim_env_id

    env = gym.make(sim_env_id(task), image_size=render_size, camera=camera, render_mode="rgb_array", reward_type=reward_type)
    return SimStateObservation(env)
