"""Training data from the MuJoCo twin's scripted experts (until recorded datasets are used).

Rolls out each sim task's stateless expert and keeps, per step, the camera
image, instruction, the motion as language (optionally a paraphrase, as a
person would say it), its id, its 8-D delta and the action chunk. The result
is an ordinary Dataset with the keys of :mod:`cliprt_agents.data`, so the
trainer treats it exactly like a recorded dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cliprt_agents.data import InMemoryMotionDataset, episode_chunks


def resolve_env_ids(names: Sequence[str] | str) -> list[str]:
    """Env ids from task names or ids (``Pick`` or ``CLIPRT-UR5Sim-Pick-v0``), comma lists allowed."""
    from cliprt_envs.registry import sim_task_entry

    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for chunk in names:
        for name in (n.strip() for n in chunk.split(",")):
            if name:
                out.append(sim_task_entry(name).env_id)
    if not out:
        raise ValueError("no sim task given; see `cliprt envs`")
    return out


def collect_sim_dataset(
    env_ids: Sequence[str] | str,
    episodes: int,
    *,
    seed: int = 0,
    image_size: int = 224,
    chunk_size: int = 8,
    paraphrase: bool = True,
    only_successful: bool = True,
    progress: bool = True,
) -> InMemoryMotionDataset:
    """Roll out the scripted expert for ``episodes`` episodes per env id.

    Episode ``k`` of the whole collection resets with ``seed + k``, so a
    collection is reproducible and disjoint seed ranges give disjoint data.
    Failed expert episodes are dropped unless ``only_successful=False``.
    """
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)

    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    ids = resolve_env_ids(env_ids)
    rng = np.random.default_rng(seed)
    samples: list[dict[str, Any]] = []
    episode_index = 0
    kept = failed = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=episodes * len(ids), desc="collecting sim episodes", unit="ep")
    try:
        for env_id in ids:
            env = gym.make(env_id, image_size=image_size)
            try:
                for _ in range(episodes):
                    steps, info = _expert_episode(env, env_id, seed + episode_index + failed, rng, paraphrase)
                    if bar is not None:
                        bar.update(1)
                    if only_successful and not info.get("is_success", False):
                        failed += 1
                        continue
                    chunks, masks = episode_chunks(np.stack([s["action"] for s in steps]), chunk_size)
                    for t, s in enumerate(steps):
                        s.update(episode_index=episode_index, step=t, action_chunk=chunks[t], chunk_mask=masks[t])
                    samples.extend(steps)
                    episode_index += 1
                    kept += 1
            finally:
                env.close()
    finally:
        if bar is not None:
            bar.close()
    if not samples:
        raise ValueError(f"the expert succeeded in none of {episodes * len(ids)} episodes; nothing to train on")
    dataset = InMemoryMotionDataset(samples)
    dataset.summary = {"episodes": kept, "failed_episodes_dropped": failed, "samples": len(samples), "env_ids": ids}
    return dataset


def _expert_episode(
    env: Any, env_id: str, seed: int, rng: np.random.Generator, paraphrase: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One scripted-expert episode: its samples (without episode fields) and the last step's info."""
    from cliprt_envs.language_env import expert_action
    from cliprt_envs.motions import random_paraphrase

    vocabulary = env.unwrapped.vocabulary
    obs, info = env.reset(seed=seed)
    steps: list[dict[str, Any]] = []
    done = False
    while not done:
        motion = expert_action(env)
        text = random_paraphrase(vocabulary, motion, rng) if paraphrase else vocabulary.text(motion)
        steps.append(
            {
                "image": obs["image"],
                "instruction": obs["instruction"],
                "proprio": np.asarray(obs["proprio"], dtype=np.float32),
                "supervision": text,
                "motion_id": int(motion),
                "action": vocabulary.delta(motion).astype(np.float32),
                "env_id": env_id,
            }
        )
        obs, _, terminated, truncated, info = env.step(motion)
        done = terminated or truncated
    return steps, info
