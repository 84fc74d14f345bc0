"""Every registered MuJoCo task: its scripted expert succeeds, random actions do not,
the instruction names the target, and episodes restart exactly from saved states."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt_envs.language_env import expert_action
from cliprt_envs.registry import SIM_TASKS, SimTaskEntry

pytest.importorskip("mujoco")
from cliprt_envs.sim.make import load_task

IMAGE = 64
EXPERT_EPISODES = 10
RANDOM_EPISODES = 6
TASK_IDS = [e.name for e in SIM_TASKS]

pytestmark = pytest.mark.sim


def make(entry: SimTaskEntry, **kwargs):
    return gym.make(entry.env_id, image_size=IMAGE, **kwargs)


def rollout(env, policy, seed: int | None = None, options: dict | None = None) -> tuple[bool, int, list[float]]:
    """Run ``policy(env)`` until the episode ends; (success, steps, rewards)."""
    env.reset(seed=seed, options=options)
    rewards: list[float] = []
    done, info, steps = False, {"is_success": False}, 0
    while not done:
        _, reward, terminated, truncated, info = env.step(policy(env))
        rewards.append(float(reward))
        steps += 1
        done = terminated or truncated
    return bool(info["is_success"]), steps, rewards


@pytest.mark.parametrize("entry", SIM_TASKS, ids=TASK_IDS)
def test_registry_entry_matches_task(entry: SimTaskEntry) -> None:
    task = load_task(entry.name, (IMAGE, IMAGE))
    assert task.name == entry.name
    assert task.max_steps == entry.max_steps
    assert len(task.instruction_templates()) >= 3
    assert entry.env_id == f"CLIPRT-UR5Sim-{entry.name}-v0"


@pytest.mark.slow
@pytest.mark.parametrize("entry", SIM_TASKS, ids=TASK_IDS)
def test_expert_succeeds_with_dense_reward_in_range(entry: SimTaskEntry) -> None:
    env = make(entry, reward_type="dense")
    try:
        results = [rollout(env, expert_action, seed=seed) for seed in range(EXPERT_EPISODES)]
    finally:
        env.close()
    successes = sum(ok for ok, _, _ in results)
    assert successes >= 0.9 * EXPERT_EPISODES, f"{entry.name}: expert {successes}/{EXPERT_EPISODES}"
    for ok, steps, rewards in results:
        assert steps <= entry.max_steps
        assert all(0.0 <= r <= 1.0 for r in rewards)
        if ok:  # 1 exactly on success, below 1 before it
            assert rewards[-1] == 1.0
            assert all(r < 1.0 for r in rewards[:-1])


@pytest.mark.slow
@pytest.mark.parametrize("entry", SIM_TASKS, ids=TASK_IDS)
def test_random_actions_rarely_succeed(entry: SimTaskEntry) -> None:
    env = make(entry)
    env.action_space.seed(123)
    try:
        successes = sum(rollout(env, lambda e: e.action_space.sample(), seed=1000 + k)[0] for k in range(RANDOM_EPISODES))
    finally:
        env.close()
    assert successes <= 2, f"{entry.name}: a random policy succeeded {successes}/{RANDOM_EPISODES} times"


@pytest.mark.parametrize("entry", SIM_TASKS, ids=TASK_IDS)
def test_instruction_names_the_target_and_targets_vary(entry: SimTaskEntry) -> None:
    env = make(entry)
    try:
        labels, instructions = set(), set()
        for seed in range(12):
            obs, info = env.reset(seed=seed)
            task = env.unwrapped.task
            label = task.target_label()
            assert label in obs["instruction"], (label, obs["instruction"])
            assert not info["is_success"], f"{entry.name} seed {seed} starts solved"
            labels.add(label)
            instructions.add(obs["instruction"])
    finally:
        env.close()
    assert len(labels) >= 2, f"{entry.name} always asks for {labels}"
    assert len(instructions) >= 3


@pytest.mark.parametrize("entry", SIM_TASKS, ids=TASK_IDS)
def test_same_seed_same_scene(entry: SimTaskEntry) -> None:
    env_a, env_b = make(entry), make(entry)
    try:
        obs_a, _ = env_a.reset(seed=7)
        obs_b, _ = env_b.reset(seed=7)
        state_a, state_b = env_a.unwrapped.save_state(), env_b.unwrapped.save_state()
        assert obs_a["instruction"] == obs_b["instruction"]
        np.testing.assert_array_equal(state_a.to_flat(), state_b.to_flat())
        env_b.reset(seed=8)
        assert not np.array_equal(env_b.unwrapped.save_state().backend, state_a.backend)
    finally:
        env_a.close()
        env_b.close()


@pytest.mark.slow
@pytest.mark.parametrize("entry", SIM_TASKS, ids=TASK_IDS)
def test_expert_finishes_from_a_restored_perturbed_state(entry: SimTaskEntry) -> None:
    """Trajectory augmentation restarts experts from saved states after off-plan motions."""
    env, fresh = make(entry), make(entry)
    vocabulary = env.unwrapped.vocabulary
    rng = np.random.default_rng(0)
    try:
        for seed in range(2):
            env.reset(seed=seed)
            for k in range(8):  # expert steps mixed with random deviations (rotations included)
                action = int(rng.integers(len(vocabulary))) if k % 3 == 0 else expert_action(env)
                _, _, terminated, _, _ = env.step(action)
                if terminated:
                    break
            state = env.unwrapped.save_state()
            assert state.task.shape == (4 + env.unwrapped.task.aux_size,)
            ok, _, _ = rollout(fresh, expert_action, options={"state": state})
            assert ok or terminated, f"{entry.name} seed {seed}: expert failed from a restored state"
            # The restored copy continues exactly like the original.
            fresh.reset(options={"state": state})
            action = expert_action(env)
            a, b = env.step(action), fresh.step(action)
            np.testing.assert_array_equal(a[0]["proprio"], b[0]["proprio"])
            np.testing.assert_array_equal(env.unwrapped.save_state().task, fresh.unwrapped.save_state().task)
    finally:
        env.close()
        fresh.close()


def test_experts_turn_the_tool_back_upright_and_unwind_the_wrist() -> None:
    from cliprt_envs.sim.backend import HOME_ROTATION
    from cliprt_envs.sim.tasks.expert import restore_orientation

    env = make(SIM_TASKS[0])
    try:
        env.reset(seed=0)
        base = env.unwrapped
        turns = (
            "yaw arm 90 degrees clockwise",
            "rotate the gripper 90 degrees clockwise",
            "yaw arm 90 degrees clockwise",
            "roll arm 45 degrees clockwise",
            "tilt arm down 15 degrees",
        )
        for text in turns:
            env.step(text)
        for _ in range(20):
            motion = restore_orientation(base.backend, base.vocabulary)
            if motion is None:
                break
            env.step(motion)
        assert motion is None
        cos = (np.trace(HOME_ROTATION.T @ base.backend.tcp_rotation()) - 1) / 2
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))) < 5
        wrist = base.backend.data.qpos[base.backend.arm_qadr[5]]
        assert abs(wrist - base.backend.home_qpos[5]) < np.pi
    finally:
        env.close()
