"""The env inside each vector-env worker: :class:`ScheduledEpisodes` and how a benchmark env is made.

Episode ``e`` of seed ``s`` always starts from init-state index
``s * 1_000_000 + e`` (``reset(options={"init_state_index": ...})``), so every
agent faces the same scenes; a hash of each initial state is stored to prove it.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt.evaluation.trace import EXPERT_KEY, StateTrail, expert_motion
from cliprt.evaluation.videos import compose_frame, write_video
from cliprt_envs.sim.scenes import DEFAULT_SCENE, scene_sim_config


class ScheduledEpisodes(gym.Wrapper):
    """Starts each episode from the init-state index the runner chose for this slot; records videos.

    ``reset`` options understood (one entry per slot, as the runner passes the
    same options to every env of the vector env): ``init_state_indices`` and
    ``video_paths`` (where to write this episode's video; empty: don't record).
    ``info`` after reset carries ``init_state_hash`` and the ``instruction``:
    info travels through a pipe, so the instruction arrives even where a
    shared-memory observation loses text.

    ``trace``: each step's info also carries the scripted expert's motion at the
    state before it (``trace_expert``, -1 without an expert) and whether the step
    changed the state or came back to an earlier one (``trace_changed``,
    ``trace_revisit``); see :mod:`cliprt.evaluation.trace`.
    """

    def __init__(
        self,
        env: gym.Env,
        slot: int,
        *,
        videos: bool = False,
        video_size: int = 256,
        trace: bool = False,
    ) -> None:
        super().__init__(env)
        self.slot = slot
        self._trail = StateTrail() if trace else None
        self.video_size = video_size
        # the people's view: the env's render() from its own camera (render_size/render_camera, see _make_env)
        self._view: Callable[[], np.ndarray] | None = env.render if videos else None
        self._video_path: str | None = None
        self._frames: list[np.ndarray] = []
        self._instruction = ""
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        indices = options.pop("init_state_indices", None)
        paths = options.pop("video_paths", None)
        if indices is not None:
            options["init_state_index"] = int(indices[self.slot])
        obs, info = self.env.reset(seed=seed, options=options)
        flat = self.env.unwrapped.save_state().to_flat()
        info["init_state_hash"] = hashlib.sha1(np.ascontiguousarray(flat).tobytes()).hexdigest()[:16]
        self._instruction = str(obs["instruction"])
        info["instruction"] = self._instruction
        self._video_path = str(paths[self.slot]) if paths is not None and paths[self.slot] else None
        self._steps = 0
        self._frames = [self._video_frame(obs, "")] if self._video_path else []
        if self._trail is not None:
            self._trail.reset(self.env)
        return obs, info

    def step(self, action):
        expert = expert_motion(self.env) if self._trail is not None else -1  # before the step: the same state
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._trail is not None:
            info = {**info, EXPERT_KEY: expert, **self._trail.step(self.env)}
        self._steps += 1
        if self._video_path:
            done = bool(terminated or truncated)
            caption = f"step {self._steps}: {info.get('motion_text', '')}"
            if done:
                success = bool(info.get("is_success", False))
                caption = f"SUCCESS at step {self._steps}" if success else f"FAILURE: no success in {self._steps} steps"
            self._frames.append(self._video_frame(obs, caption, done=done, success=bool(info.get("is_success", False))))
            if done:
                write_video(self._video_path, self._frames)
                self._video_path, self._frames = None, []
        return obs, reward, terminated, truncated, info

    def _video_frame(self, obs: dict, caption: str, *, done: bool = False, success: bool = False) -> np.ndarray:
        agent_image = np.asarray(obs["image"])
        return compose_frame(
            self._view() if self._view is not None else agent_image,
            agent_image,
            self._instruction,
            caption,
            self.video_size,
            colour=((90, 220, 90) if success else (240, 90, 90)) if done else (235, 235, 235),
        )


def _entry_point_params(env_id: str) -> dict[str, inspect.Parameter]:
    """The keyword parameters of an env id's entry point ({} where they cannot be read)."""
    spec = gym.spec(env_id)
    try:
        creator = spec.entry_point if callable(spec.entry_point) else gym.envs.registration.load_env_creator(spec.entry_point)
        return dict(inspect.signature(creator).parameters)
    except (ImportError, AttributeError, TypeError, ValueError):
        return {}


def env_default(env_id: str, name: str) -> Any:
    """The value an env uses for ``name`` when it is not given (registered kwargs, then the entry point's default)."""
    spec = gym.spec(env_id)
    if name in spec.kwargs:
        return spec.kwargs[name]
    param = _entry_point_params(env_id).get(name)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def _make_env(
    env_id: str,
    slot: int,
    image_size: int,
    max_steps: int | None,
    camera: str | None = None,
    phrasings: str = "train",
    scene: str = DEFAULT_SCENE,
    video_size: int = 256,
    video_camera: str | None = None,
    videos: bool = False,
    trace: bool = False,
    robot_config: str | None = None,
) -> gym.Env:
    kwargs: dict[str, Any] = {"image_size": image_size}
    if robot_config is not None:  # a real robot (its env takes config=)
        kwargs["config"] = robot_config
    if camera is not None:
        kwargs["camera"] = camera
    if phrasings != "train":  # only envs with held-out phrasings take the option
        kwargs["phrasings"] = phrasings
    if scene != DEFAULT_SCENE:  # only the twin's envs take a scene condition (BenchConfig checks)
        kwargs["sim_config"] = scene_sim_config(scene)
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    if videos:  # every language-motion env draws the people's view from a camera of its own
        kwargs.update(render_mode="rgb_array", render_size=video_size)
        if video_camera is not None:
            kwargs["render_camera"] = video_camera
    return ScheduledEpisodes(gym.make(env_id, **kwargs), slot, videos=videos, video_size=video_size, trace=trace)
