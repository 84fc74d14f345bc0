"""LanguageMotionEnv: any backend + camera + task behind one language-motion action space."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cliprt_envs.instruction_space import (
    INSTRUCTION_CHARSET,
    MAX_INSTRUCTION_LENGTH,
    InstructionText,
    InvalidInstructionError,
)
from cliprt_envs.motions import (
    PAPER_POSITION_MAGNITUDES_M,
    PAPER_ROTATION_MAGNITUDES_DEG,
    POSITION_AXES,
    UnknownMotionError,
    Vocabulary,
    default_vocabulary,
)
from cliprt_envs.protocols import Camera, MoveResult, RobotBackend, Task

__all__ = [
    "INSTRUCTION_CHARSET",
    "MAX_INSTRUCTION_LENGTH",
    "EnvState",
    "InvalidActionError",
    "InvalidEnvOptionError",
    "InvalidEnvOptionTypeError",
    "InvalidInstructionError",
    "LanguageMotionEnv",
    "continuous_action_bounds",
    "expert_action",
]

PROPRIO_DIM = 8  # tcp xyz (m), tcp quaternion wxyz, gripper opening (0 closed .. 1 open)
PROPRIO_LOW = np.array([-3, -3, -3, -1, -1, -1, -1, 0], dtype=np.float32)
PROPRIO_HIGH = np.array([3, 3, 3, 1, 1, 1, 1, 1], dtype=np.float32)


class InvalidActionError(ValueError):
    """An action the env cannot execute; the env is unchanged and still usable."""


class InvalidEnvOptionError(ValueError):
    """A constructor option (``gym.make(id, **options)``) with a value the env cannot use."""


class InvalidEnvOptionTypeError(InvalidEnvOptionError, TypeError):
    """A constructor option of the wrong type (also a ``TypeError``)."""


def reject_unknown_options(unknown: dict[str, Any], options: tuple[str, ...], robot: str) -> None:
    """Raise :class:`InvalidEnvOptionTypeError` naming each unknown option (with the closest known one) and all known."""
    if unknown:
        hints = []
        for name in sorted(unknown):
            close = difflib.get_close_matches(name, options, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise InvalidEnvOptionTypeError(f"unknown {robot} env option {', '.join(hints)}; the options are {', '.join(options)}")


def continuous_action_bounds(vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension bounds of the continuous (8-D delta) action space.

    A continuous step may move as far as the vocabulary's largest motion of its
    kind (metres for x/y/z, radians for roll/pitch/yaw/gripper rotation; the
    paper's largest when the vocabulary has none of that kind) and commands the
    gripper with a value in [-1, 1] (> 0 opens, < 0 closes, 0 keeps it).
    """
    pos = max(vocabulary.position_magnitudes, default=max(PAPER_POSITION_MAGNITUDES_M))
    rot = max(vocabulary.rotation_magnitudes, default=math.radians(max(PAPER_ROTATION_MAGNITUDES_DEG)))
    high = np.array([pos] * len(POSITION_AXES) + [rot] * 4 + [1.0], dtype=np.float32)
    return -high, high


@dataclass(frozen=True)
class EnvState:
    """Everything needed to restart an episode exactly where it was."""

    backend: np.ndarray
    task: np.ndarray
    instruction: str
    elapsed_steps: int = 0

    def to_flat(self) -> np.ndarray:
        """``[elapsed, n_backend, backend..., task...]`` as float64 (instruction kept apart)."""
        head = np.array([self.elapsed_steps, self.backend.size], dtype=np.float64)
        return np.concatenate([head, self.backend.ravel(), self.task.ravel()])

    @classmethod
    def from_flat(cls, flat: np.ndarray, instruction: str) -> EnvState:
        flat = np.asarray(flat, dtype=np.float64)
        elapsed, n_backend = int(flat[0]), int(flat[1])
        return cls(flat[2 : 2 + n_backend].copy(), flat[2 + n_backend :].copy(), instruction, elapsed)


class LanguageMotionEnv(gym.Env[dict[str, Any], int]):
    """A Gymnasium env whose action ``k`` is the language motion ``vocabulary[k]``.

    ``step`` also accepts the motion text itself (``env.step("lower the arm by
    5 centimeters")``). With ``continuous=True`` the action is an 8-D
    end-effector delta instead (for CLIP-RT+ and other continuous policies),
    bounded per dimension by :func:`continuous_action_bounds`; larger values
    are clipped to the bounds and ``info["action_clipped"]`` says so.

    ``reset(options=...)`` understands ``{"state": EnvState}`` (restart from a
    saved state, used by trajectory augmentation), ``{"init_state_index": i}``
    (a fixed, reproducible initial scene, used by benchmarks) and
    ``{"instruction": str}`` (override the instruction text).

    ``render()`` (``render_mode="rgb_array"``) returns the last observation
    image, or a fresh frame from ``render_camera`` when one is given (a view
    for people, e.g. larger than the agent's image).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        backend: RobotBackend,
        camera: Camera,
        task: Task,
        vocabulary: Vocabulary | None = None,
        *,
        continuous: bool = False,
        render_mode: str | None = None,
        reward_type: str = "sparse",
        terminate_on_success: bool = True,
        wrist_camera: Camera | None = None,
        render_camera: Camera | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidEnvOptionError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        if reward_type not in ("sparse", "dense"):
            raise InvalidEnvOptionError(f"reward_type must be 'sparse' or 'dense', got {reward_type!r}")
        for name, flag in (("continuous", continuous), ("terminate_on_success", terminate_on_success)):
            if not isinstance(flag, (bool, np.bool_)):
                raise InvalidEnvOptionTypeError(f"{name} must be True or False, got {type(flag).__name__}: {flag!r}")
        if vocabulary is not None and not isinstance(vocabulary, Vocabulary):
            raise InvalidEnvOptionTypeError(
                f"vocabulary must be a cliprt_envs.Vocabulary (e.g. Vocabulary.build(...)) or None, "
                f"got {type(vocabulary).__name__}"
            )
        continuous, terminate_on_success = bool(continuous), bool(terminate_on_success)
        self.backend = backend
        self.camera = camera
        self.wrist_camera = wrist_camera
        self.render_camera = render_camera
        self.task = task
        self.vocabulary = vocabulary if vocabulary is not None else default_vocabulary()
        self.continuous = continuous
        self.render_mode = render_mode
        self.reward_type = reward_type
        self.terminate_on_success = terminate_on_success
        if continuous:
            low, high = continuous_action_bounds(self.vocabulary)
            self.action_space = spaces.Box(low, high, dtype=np.float32)
        else:
            self.action_space = spaces.Discrete(len(self.vocabulary))
        image = spaces.Box(0, 255, shape=(camera.height, camera.width, 3), dtype=np.uint8)
        obs = {
            "image": image,
            "instruction": InstructionText(MAX_INSTRUCTION_LENGTH),
            "proprio": spaces.Box(PROPRIO_LOW, PROPRIO_HIGH, dtype=np.float32),
        }
        if wrist_camera is not None:
            obs["wrist_image"] = spaces.Box(0, 255, shape=(wrist_camera.height, wrist_camera.width, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.instruction = ""
        self.elapsed_steps = 0
        self._last_image: np.ndarray | None = None

    # -- gymnasium API ------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"state", "init_state_index", "instruction"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; use 'state', 'init_state_index' or 'instruction'")
        # Checked before anything changes, so a bad instruction leaves the episode as it was.
        override = None
        if "instruction" in options:
            override = self._checked_instruction(options["instruction"], "reset option 'instruction'")
        if "state" in options:
            self.restore_state(options["state"])
        else:
            rng = self.np_random
            if "init_state_index" in options:
                index = int(options["init_state_index"])
                if index < 0:
                    raise ValueError(f"init_state_index must be >= 0, got {index}")
                rng = np.random.default_rng([index, 0x5EED])
            self.instruction = self._checked_instruction(self.task.reset(self.backend, rng), "task's instruction")
            self.elapsed_steps = 0
        if override is not None:
            self.instruction = override
        obs = self._observe()
        return obs, self._reset_info()

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        motion_id, delta, clipped = self._parse_action(action)
        result = self.backend.move(delta)
        self.elapsed_steps += 1
        obs = self._observe()
        success = bool(self.task.success(self.backend))
        if self.reward_type == "dense":
            reward = float(self.task.reward(self.backend))
        else:
            reward = 1.0 if success else 0.0
        terminated = success and self.terminate_on_success
        info = self._step_info(motion_id, result, success)
        info["action_clipped"] = clipped
        return obs, reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            if self.render_camera is not None:  # a separate view for people (videos), fresh each call
                return self.render_camera.read()
            return self._last_image if self._last_image is not None else self.camera.read()
        return None

    def close(self) -> None:
        self.camera.close()
        for extra in (self.wrist_camera, self.render_camera):
            if extra is not None:
                extra.close()
        self.backend.close()

    def expert_action(self) -> int:
        """The task's scripted expert's next motion id (sim tasks only).

        A method of the env so that vector-env workers can answer it
        (``envs.call("expert_action")``).
        """
        if not getattr(self.task, "has_expert", hasattr(self.task, "expert_action")):
            raise TypeError(f"{type(self.task).__name__} has no scripted expert; only sim tasks do")
        return int(self.task.expert_action(self.backend, self.vocabulary))

    # -- state --------------------------------------------------------------
    def save_state(self) -> EnvState:
        """The full state of the episode (exact in simulation)."""
        return EnvState(
            backend=np.asarray(self.backend.save_state(), dtype=np.float64).copy(),
            task=np.asarray(self.task.save_state(), dtype=np.float64).copy(),
            instruction=self.instruction,
            elapsed_steps=self.elapsed_steps,
        )

    def restore_state(self, state: EnvState) -> None:
        if not isinstance(state, EnvState):
            raise TypeError(f"reset option 'state' must be an EnvState, got {type(state).__name__}")
        instruction = self._checked_instruction(state.instruction, "saved state's instruction")
        self.backend.restore_state(state.backend)
        self.task.restore_state(state.task)
        self.instruction = instruction
        self.elapsed_steps = state.elapsed_steps

    # -- helpers ------------------------------------------------------------
    def _checked_instruction(self, text: object, what: str) -> str:
        space = self.observation_space["instruction"]
        if isinstance(space, InstructionText):
            return space.check(text, what)
        if not (isinstance(text, str) and space.contains(text)):
            raise InvalidInstructionError(f"the {what} {text!r} is not in the instruction space {space}")
        return text

    def _parse_action(self, action: Any) -> tuple[int | None, np.ndarray, bool]:
        """``(motion id or None, 8-D delta, clipped)`` for a step's action."""
        if self.continuous:
            return self._continuous_delta(action)
        motion_id = self._motion_id(action)
        if not 0 <= motion_id < len(self.vocabulary):
            raise InvalidActionError(f"motion id {motion_id} is out of range 0..{len(self.vocabulary) - 1}")
        return motion_id, self.vocabulary.delta(motion_id), False

    def _continuous_delta(self, action: Any) -> tuple[None, np.ndarray, bool]:
        try:
            delta = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidActionError(f"a continuous action is 8 numbers, got {action!r}") from exc
        if delta.shape != (8,):
            raise InvalidActionError(f"a continuous action is 8 numbers, got shape {delta.shape}")
        if not np.all(np.isfinite(delta)):
            raise InvalidActionError(
                f"a continuous action must be finite; got NaN or inf in {delta.tolist()} (check the policy's output)"
            )
        space = self.action_space
        assert isinstance(space, spaces.Box)
        clipped = np.clip(delta, space.low.astype(np.float64), space.high.astype(np.float64))
        return None, clipped, bool(np.any(clipped != delta))

    def _motion_id(self, action: Any) -> int:
        """The motion id a discrete action names (not yet range-checked)."""
        if isinstance(action, str):
            try:
                return self.vocabulary.id_of(action)
            except UnknownMotionError as exc:
                raise InvalidActionError(str(exc)) from None
        if isinstance(action, (bool, np.bool_)):
            raise InvalidActionError(f"an action is a motion id or text, got bool {action!r}")
        if isinstance(action, (int, np.integer)):
            return int(action)
        if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
            return int(action)
        if isinstance(action, (float, np.floating)):
            if not math.isfinite(action) or not float(action).is_integer():
                raise InvalidActionError(f"an action is a motion id (int) or text, got {action!r}")
            return int(action)
        raise InvalidActionError(f"an action is a motion id (int) or a motion text, got {type(action).__name__}: {action!r}")

    def proprio(self) -> np.ndarray:
        pos, quat = self.backend.tcp_pose()
        return np.concatenate([pos, quat, [self.backend.gripper_opening()]]).astype(np.float32)

    def _observe(self) -> dict[str, Any]:
        image = self.camera.read()
        self._last_image = image
        obs = {"image": image, "instruction": self.instruction, "proprio": self.proprio()}
        if self.wrist_camera is not None:
            obs["wrist_image"] = self.wrist_camera.read()
        return obs

    def _reset_info(self) -> dict[str, Any]:
        return {"task": self.task.name, "is_success": bool(self.task.success(self.backend))}

    def _step_info(self, motion_id: int | None, result: MoveResult, success: bool) -> dict[str, Any]:
        info = {
            "task": self.task.name,
            "is_success": success,
            "motion_id": -1 if motion_id is None else motion_id,
            "motion_text": "" if motion_id is None else self.vocabulary.text(motion_id),
            "commanded_delta": result.commanded,
            "achieved_delta": result.achieved,
            "ik_failed": result.ik_failed,
            "joint_limited": result.joint_limited,
            "table_collision": result.table_collision,
            "workspace_clamped": bool(result.extra.get("workspace_clamped", False)),
        }
        return info


def expert_action(env: gym.Env) -> int:
    """The scripted expert's next motion for a sim env (through any wrappers)."""
    return env.unwrapped.expert_action()
