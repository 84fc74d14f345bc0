"""Episodes of the MuJoCo twin for the in-project encoder: the scripted expert's successes and near misses.

Each task gives expert episodes (labelled with their instruction) and
"near-miss" episodes: the expert for a random part of the episode, then
random motions (mostly failures: the encoder learns that they do not match
the instruction). Frames come from the reward camera through the same
:class:`~cliprt_agents.roboclip.video.EpisodeFrames` the reward uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe
from cliprt_agents.roboclip.video import EpisodeFrames


@dataclass(frozen=True)
class RecordedEpisode:
    clip: np.ndarray  # (T, H, W, 3) uint8
    instruction: str
    task: str
    success: bool
    goal: str = ""  # task and target object: episodes with the same goal are positives for each other


def episode_goal(env) -> str:
    task = env.unwrapped.task
    try:
        return f"{task.name}:{task.target_label()}"
    except (AttributeError, NotImplementedError, IndexError):
        return f"{task.name}:{env.unwrapped.instruction}"


def sim_env_id(task: str) -> str:
    from cliprt_envs.registry import sim_task_entry

    return sim_task_entry(task).env_id


def make_sim_render_env(task: str, image_size: int, camera: str):
    """A twin env whose ``render()`` is the reward camera's frame."""
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)

    return gym.make(sim_env_id(task), image_size=image_size, camera=camera, render_mode="rgb_array")


def run_episode(env, rng: np.random.Generator, recipe: FrameRecipe, expert_steps: int | None, seed: int) -> RecordedEpisode:
    """One episode: the expert for ``expert_steps`` steps (None: all), random motions after."""
    from cliprt_envs.language_env import expert_action

    obs, _ = env.reset(seed=seed)
    frames = EpisodeFrames(recipe)
    frames.reset(env.render)
    success, step = False, 0
    while True:
        use_expert = expert_steps is None or step < expert_steps
        action = expert_action(env) if use_expert else int(rng.integers(env.action_space.n))
        _, _, terminated, truncated, info = env.step(action)
        frames.add(env.render)
        success = success or bool(info.get("is_success", False))
        step += 1
        if terminated or truncated:
            break
    clip = frames.finish(env.render)
    return RecordedEpisode(clip, obs["instruction"], env.unwrapped.task.name, success, episode_goal(env))


def record_episodes(
    tasks: tuple[str, ...],
    episodes_per_task: int,
    recipe: FrameRecipe,
    *,
    image_size: int = 64,
    camera: str = "front",
    seed: int = 0,
    progress: bool = True,
) -> list[RecordedEpisode]:
    """``episodes_per_task`` expert and as many near-miss episodes per task."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    episodes: list[RecordedEpisode] = []
    bar = tqdm(total=len(tasks) * 2 * episodes_per_task, desc="record episodes", disable=not progress)
    for t, task in enumerate(tasks):
        env = make_sim_render_env(task, image_size, camera)
        try:
            limit = env.spec.max_episode_steps or 30
            for i in range(2 * episodes_per_task):
                expert_steps = None if i % 2 == 0 else int(rng.integers(0, max(2, limit // 3)))
                episodes.append(run_episode(env, rng, recipe, expert_steps, seed=seed * 100_003 + t * 10_007 + i))
                bar.update()
        finally:
            env.close()
    bar.close()
    return episodes
