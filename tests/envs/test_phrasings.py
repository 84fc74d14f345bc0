"""Held-out instruction phrasings: never in any dataset, chosen with gym.make(..., phrasings="held_out")."""

from __future__ import annotations

import gymnasium as gym
import pytest

import cliprt_envs  # noqa: F401
from cliprt_envs.registry import SIM_TASKS


@pytest.mark.parametrize("entry", [e for e in SIM_TASKS if e.task_class.heldout_templates], ids=lambda e: e.name)
def test_held_out_phrasings_are_new_and_the_option_uses_only_them(entry):
    cls = entry.task_class
    assert len(cls.heldout_templates) >= 2 and not set(cls.heldout_templates) & set(cls.templates)
    env = gym.make(entry.env_id, image_size=32, phrasings="held_out")
    fills = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        fills.append(obs["instruction"])
    env.close()
    # each instruction is one of the held-out templates filled in, never a training one
    task = env.unwrapped.task
    assert task.instruction_templates() == cls.heldout_templates
    for text in fills:
        first = text.split()[0]
        assert any(t.split()[0] == first for t in cls.heldout_templates), text


def test_every_common_task_has_held_out_phrasings_and_training_envs_never_speak_them():
    from cliprt_envs.registry import COMMON_TASKS

    common = list(COMMON_TASKS)
    assert common and all(e.task_class.heldout_templates for e in common)
    env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32)
    seen = {env.reset(seed=s)[0]["instruction"].split()[0] for s in range(12)}
    env.close()
    assert not seen & {t.split()[0] for t in env.unwrapped.task.heldout_templates}


def test_bad_phrasings_options_are_refused():
    from cliprt.evaluation.settings import BenchConfig
    from cliprt_envs.language_env import InvalidEnvOptionError

    with pytest.raises(InvalidEnvOptionError, match="phrasings"):
        gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32, phrasings="other")
    with pytest.raises(ValueError, match="phrasings"):
        BenchConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), phrasings="other")
