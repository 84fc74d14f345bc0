"""One LIBERO env per test module (construction takes 4-15 s)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)

SPATIAL = "CLIPRT-LIBERO-Spatial-v0"


@pytest.fixture(scope="module")
def libero_env():
    env = gym.make(SPATIAL, task_index=0, image_size=64)
    yield env
    env.close()
