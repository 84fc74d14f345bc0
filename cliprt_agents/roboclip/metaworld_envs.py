"""Meta-World tasks as RoboCLIP trained on them: state + time feature for the policy, renders for the reward.

``gym.make("Meta-World/MT1", env_name="<task>-v3", render_mode="rgb_array",
camera_name=..., width=..., height=..., max_episode_steps=128)``. In
Meta-World 3.1.1 the ``corner``, ``corner2`` and ``corner3`` cameras render
upside down (checked by eye on this machine), so their frames are flipped
back (``flip=None``: automatic).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cliprt_agents.roboclip.config import METAWORLD_TEXTS

CAMERAS = ("corner", "corner2", "corner3", "topview", "behindGripper", "gripperPOV")
UPSIDE_DOWN_CAMERAS = ("corner", "corner2", "corner3")


def metaworld_env_name(task: str) -> str:
    """``drawer-close`` -> ``drawer-close-v3`` (names with a version are kept)."""
    import metaworld

    name = task if task.endswith("-v3") else f"{task}-v3"
    known = set(metaworld.env_dict.ALL_V3_ENVIRONMENTS)
    if name not in known:
        paper = ", ".join(METAWORLD_TEXTS)
        raise ValueError(
            f"unknown Meta-World task {task!r} (the paper's: {paper}; any of metaworld.env_dict.ALL_V3_ENVIRONMENTS)"
        )
    return name


class TimeFeature(gym.ObservationWrapper):
    """Appends ``t / episode_steps`` to a vector observation (the RoboCLIP authors' ``time=True``)."""

    def __init__(self, env: gym.Env, episode_steps: int) -> None:
        super().__init__(env)
        self.episode_steps, self.t = episode_steps, 0
        low, high = env.observation_space.low.astype(np.float64), env.observation_space.high.astype(np.float64)
        # Meta-World 3.1.1 declares its goal dims as [0, 0] in MT1, yet fills them with the goal: no bounds there
        fixed = low == high
        low, high = np.where(fixed, -np.inf, low), np.where(fixed, np.inf, high)
        low = np.append(low, 0.0).astype(np.float32)
        high = np.append(high, 1.0).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

    def reset(self, **kwargs: Any):
        self.t = 0
        return super().reset(**kwargs)

    def step(self, action: Any):
        self.t += 1
        return super().step(action)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.append(np.asarray(observation, dtype=np.float32), np.float32(self.t / self.episode_steps))


class FlipRender(gym.Wrapper):
    """Turns an upside-down camera's frames the right way up."""

    def render(self) -> Any:
        frame = self.env.render()
        return None if frame is None else np.ascontiguousarray(frame[::-1])


def make_metaworld_env(
    task: str,
    *,
    camera: str = "corner",
    width: int = 640,
    height: int = 480,
    episode_steps: int = 128,
    seed: int | None = None,
    render: bool = True,
    flip: bool | None = None,
) -> gym.Env:
    """One Meta-World task (MT1) with the time feature; ``render()`` gives ``camera`` frames when ``render``."""
    try:
        import metaworld  # noqa: F401  (registers Meta-World/MT1)
    except ImportError as exc:
        from cliprt_envs.errors import MissingExtraError

        raise MissingExtraError(f'Meta-World is not installed: pip install "cliprt[roboclip]" ({exc})') from exc
    if camera not in CAMERAS:
        raise ValueError(f"unknown Meta-World camera {camera!r}; choose one of {', '.join(CAMERAS)}")
    kwargs: dict[str, Any] = (
        {"render_mode": "rgb_array", "camera_name": camera, "width": width, "height": height} if render else {}
    )
    env = gym.make("Meta-World/MT1", env_name=metaworld_env_name(task), seed=seed, max_episode_steps=episode_steps, **kwargs)
    if render and (camera in UPSIDE_DOWN_CAMERAS if flip is None else flip):
        env = FlipRender(env)
    return TimeFeature(env, episode_steps)
