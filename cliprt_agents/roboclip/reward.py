"""RoboCLIP's reward as Gymnasium wrappers: 0 during the episode, the video-target similarity at its end.

- :class:`RoboCLIPReward` wraps one env that renders and scores its own episodes.
- :class:`EpisodeVideo` only records (for vector envs): at the episode's end it
  puts the clip into ``info["roboclip_video"]``, so one process holding the
  encoder embeds the clips of every env that finished in one batch
  (:class:`RoboCLIPVectorReward` for Gymnasium vector envs, the SB3 wrapper in
  :mod:`.ppo` for stable-baselines3).

At the end of an episode ``info`` has ``roboclip_similarity`` (the raw dot
product, also the reward), ``env_reward`` (the env's own reward of that
step), ``env_return`` (the env's own return of the episode) and ``is_success`` (true success: the env's ``is_success`` or
Meta-World's ``success``, at any step of the episode).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe
from cliprt_agents.roboclip.encoders.base import VideoLanguageEncoder
from cliprt_agents.roboclip.video import EpisodeFrames, to_float

VIDEO_KEY = "roboclip_video"
SIMILARITY_KEY = "roboclip_similarity"


def step_success(info: dict[str, Any]) -> bool:
    """The env's own success flag of a step (``is_success``, or Meta-World's ``success``)."""
    return bool(info.get("is_success", info.get("success", False)))


def similarities(encoder: VideoLanguageEncoder, target: np.ndarray, clips: list[np.ndarray], recipe: FrameRecipe) -> np.ndarray:
    """Raw dot products of the target with each uint8 clip, the clips embedded in one batch."""
    if not clips:
        return np.zeros(0, dtype=np.float32)
    videos = to_float(np.stack(clips), recipe)
    return (encoder.embed_videos(videos) @ np.asarray(target, dtype=np.float32)).astype(np.float32)


class EpisodeVideo(gym.Wrapper):
    """Records the recipe's clip of each episode from ``render()``; hands it over in ``info`` at the end."""

    def __init__(self, env: gym.Env, recipe: FrameRecipe, record: bool = True) -> None:
        super().__init__(env)
        self.record = record
        if record and env.render_mode != "rgb_array":
            raise ValueError(
                f"RoboCLIP scores rendered videos: make the env with render_mode='rgb_array' (got {env.render_mode!r})"
            )
        self.recipe = recipe
        self.frames = EpisodeFrames(recipe)
        self.succeeded, self.env_return = False, 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        if self.record:
            self.frames.reset(self.env.render)
        self.succeeded, self.env_return = False, 0.0
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.record:
            self.frames.add(self.env.render)
        self.succeeded = self.succeeded or step_success(info)
        self.env_return += float(reward)
        if terminated or truncated:
            info = dict(info)
            if self.record:
                info[VIDEO_KEY] = self.frames.finish(self.env.render)
            info["env_reward"] = float(reward)
            info["env_return"] = self.env_return
            info["is_success"] = self.succeeded
        return obs, reward, terminated, truncated, info


class RoboCLIPReward(gym.Wrapper):
    """One env, its reward replaced by RoboCLIP's: 0 until the episode ends, then ``target @ z_video``."""

    def __init__(
        self, env: gym.Env, encoder: VideoLanguageEncoder, target: np.ndarray, recipe: FrameRecipe | None = None
    ) -> None:
        self.recipe = recipe or encoder.recipe
        super().__init__(EpisodeVideo(env, self.recipe))
        self.encoder = encoder
        self.target = np.asarray(target, dtype=np.float32).reshape(-1)
        if self.target.shape[0] != encoder.embed_dim:
            raise ValueError(f"the target has {self.target.shape[0]} values but {encoder.name} embeds to {encoder.embed_dim}")

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        if VIDEO_KEY not in info:
            return obs, 0.0, terminated, truncated, info
        clip = info.pop(VIDEO_KEY)
        similarity = float(similarities(self.encoder, self.target, [clip], self.recipe)[0])
        info[SIMILARITY_KEY] = similarity
        return obs, similarity, terminated, truncated, info


class RoboCLIPVectorReward(gym.vector.VectorWrapper):
    """RoboCLIP's reward over a Gymnasium vector env whose sub-envs are wrapped in :class:`EpisodeVideo`.

    The clips of every sub-env that finished at this step are embedded in one
    batch here, in the process that holds the encoder.
    """

    def __init__(self, env: gym.vector.VectorEnv, encoder: VideoLanguageEncoder, target: np.ndarray, recipe: FrameRecipe) -> None:
        super().__init__(env)
        self.encoder, self.recipe = encoder, recipe
        self.target = np.asarray(target, dtype=np.float32).reshape(-1)

    def step(self, actions: Any):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        infos = dict(infos)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        has_clip = np.asarray(infos.pop("_" + VIDEO_KEY, np.zeros(self.num_envs, bool)), dtype=bool)
        clips = infos.pop(VIDEO_KEY, None)
        done = np.flatnonzero(has_clip)
        scores = np.zeros(self.num_envs, dtype=np.float32)
        if len(done):
            scores[done] = similarities(self.encoder, self.target, [clips[i] for i in done], self.recipe)
            rewards[done] = scores[done]
        infos[SIMILARITY_KEY], infos["_" + SIMILARITY_KEY] = scores, has_clip
        return obs, rewards, terminated, truncated, infos


def make_roboclip_vector_env(
    env_fns: list[Callable[[], gym.Env]],
    encoder: VideoLanguageEncoder,
    target: np.ndarray,
    recipe: FrameRecipe | None = None,
    *,
    asynchronous: bool = False,
) -> RoboCLIPVectorReward:
    """A Gymnasium vector env (sync, or async: one process per env) with RoboCLIP's reward.

    Each ``env_fns[i]()`` must return an env made with ``render_mode="rgb_array"``;
    it is wrapped in :class:`EpisodeVideo` inside its own process, and only
    the finished clips travel to this process, where they are embedded together.
    """
    recipe = recipe or encoder.recipe
    wrapped = [functools.partial(_recording, fn, recipe) for fn in env_fns]
    vector = gym.vector.AsyncVectorEnv(wrapped) if asynchronous else gym.vector.SyncVectorEnv(wrapped)
    return RoboCLIPVectorReward(vector, encoder, target, recipe)


def _recording(env_fn: Callable[[], gym.Env], recipe: FrameRecipe) -> gym.Env:
    return EpisodeVideo(env_fn(), recipe)
