"""The LIBERO env: :class:`LanguageMotionEnv` plus LIBERO's native actions and control-step budget."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cliprt_envs.language_env import InvalidActionError, LanguageMotionEnv
from cliprt_envs.protocols import MoveResult

#: LIBERO's native action: OSC_POSE delta (6, units of 5 cm / 0.5 rad) and gripper (-1 open, +1 close).
NATIVE_ACTION_DIM = 7


class LiberoLanguageEnv(LanguageMotionEnv):
    """The same contract as the twin (vocabulary, ``image``/``instruction``/``proprio``, info fields).

    Differences, all LIBERO's: ``continuous=True`` takes LIBERO's native 7-D
    action in [-1, 1] (one control step per ``step``) instead of an 8-D
    delta; an episode is truncated once ``max_control_steps`` control steps
    (the official per-suite limit, after the settle steps) have run, however
    many language motions that took; ``info`` adds ``control_steps`` (this
    episode's), ``motion_control_steps``, ``reached`` and ``init_state_index``.
    """

    def __init__(self, *args: Any, max_control_steps: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_control_steps = int(max_control_steps)
        if self.continuous:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(NATIVE_ACTION_DIM,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        if "init_state_index" in options and "state" not in options:
            index = int(options.pop("init_state_index"))
            if index < 0:
                raise ValueError(f"init_state_index must be >= 0, got {index}")
            gym.Env.reset(self, seed=seed)  # seeds np_random, nothing else
            seed = None
            self.task.next_index = index
        obs, info = super().reset(seed=seed, options=options)
        info["init_state_index"] = int(self.task.target)
        info["control_steps"] = self.backend.control_steps
        return obs, info

    def step(self, action: Any):
        if self.continuous:
            obs, reward, terminated, truncated, info = self._native_step(action)
        else:
            obs, reward, terminated, truncated, info = super().step(action)
        info["control_steps"] = self.backend.control_steps
        truncated = bool(truncated or (not terminated and self.backend.control_steps >= self.max_control_steps))
        return obs, reward, terminated, truncated, info

    def _native_step(self, action: Any):
        try:
            native = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidActionError(f"a LIBERO action is 7 numbers, got {action!r}") from exc
        if native.shape != (NATIVE_ACTION_DIM,) or not np.all(np.isfinite(native)):
            raise InvalidActionError(f"a LIBERO action is 7 finite numbers in [-1, 1], got {native.tolist()}")
        clipped = np.clip(native, -1.0, 1.0)
        p0, open0 = self.backend.tcp_position(), self.backend.gripper_opening()
        self.backend.native_step(clipped)
        self.elapsed_steps += 1
        achieved = np.zeros(8)
        achieved[:3] = self.backend.tcp_position() - p0
        achieved[7] = self.backend.gripper_opening() - open0
        result = MoveResult(commanded=clipped, achieved=achieved, extra={"reached": True, "control_steps": 1})
        obs = self._observe()
        success = bool(self.task.success(self.backend))
        info = self._step_info(None, result, success)
        info["action_clipped"] = bool(np.any(clipped != native))
        reward = 1.0 if success else 0.0
        return obs, reward, success and self.terminate_on_success, False, info

    def _step_info(self, motion_id: int | None, result: MoveResult, success: bool) -> dict[str, Any]:
        info = super()._step_info(motion_id, result, success)
        info["reached"] = bool(result.extra.get("reached", False))
        info["motion_control_steps"] = int(result.extra.get("control_steps", 0))
        return info
