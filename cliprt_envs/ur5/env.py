"""The language-motion env on the real UR5: faults end the episode, a person (or a detector) says success.

Same vocabulary, observation keys, ``info`` fields and text actions as the
twin (it *is* a :class:`~cliprt_envs.language_env.LanguageMotionEnv`); it adds
``info["fault"]`` (why the episode ended, ``""`` while all is well),
``info["refused"]`` (why a step was not executed) and
``info["planned_duration_s"]``. A fault truncates the episode
(``truncated=True``), the arm is stopped, and :meth:`UR5Env.step` refuses to
move again until :meth:`UR5Env.reset`, which reconnects if needed, checks the
robot is healthy, and returns home at the homing speed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
import weakref
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import numpy as np

from cliprt_envs.language_env import LanguageMotionEnv
from cliprt_envs.tasks.base import Task
from cliprt_envs.ur5.camera import CameraTimeout
from cliprt_envs.ur5.safety import CAMERA_TIMEOUT

log = logging.getLogger(__name__)
_LIVE: weakref.WeakSet[UR5Env] = weakref.WeakSet()
_EXIT_HOOK = False


class RobotFaultError(RuntimeError):
    """A step after the episode ended on a fault; ``reset()`` first."""


class SuccessDetector(Protocol):
    """Says from an observation whether the task is done (plug into ``make_ur5_env(success_detector=...)``)."""

    def __call__(self, observation: dict[str, Any]) -> bool: ...


class RealTask(Task[Any]):
    """A real cell has no task sampler: the instruction is given; success is reported or detected."""

    name: ClassVar[str] = "UR5"
    max_steps: ClassVar[int] = 60
    summary: ClassVar[str] = "the real UR5: the instruction comes from reset options or the robot config"
    templates: ClassVar[tuple[str, ...]] = ("{instruction}",)

    def __init__(self, task_name: str, instruction: str, detector: SuccessDetector | None = None) -> None:
        super().__init__()
        self.name = task_name  # type: ignore[misc]  # per robot config
        self.default_instruction = instruction
        self.next_instruction: str | None = None
        self.detector = detector
        self.reported_success = False
        self.last_observation: dict[str, Any] | None = None

    def sample_initial_state(self, backend: Any, rng: np.random.Generator) -> dict[str, str]:
        text = self.next_instruction or self.default_instruction
        self.next_instruction = None
        if not text:
            raise ValueError(
                "a real robot has no task sampler: reset(options={'instruction': 'pick up the red cube'}) "
                "or set instruction in the robot config"
            )
        self.reported_success = False
        self.last_observation = None
        return {"instruction": text}

    def success(self, backend: Any) -> bool:
        if self.reported_success:
            return True
        if self.detector is not None and self.last_observation is not None:
            return bool(self.detector(self.last_observation))
        return False


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done (so a second Ctrl-C cannot cut a stop short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if signal.SIGINT in caught:
            raise KeyboardInterrupt
        if signal.SIGTERM in caught:
            raise SystemExit(128 + signal.SIGTERM)


def _close_live_envs() -> None:
    for env in list(_LIVE):
        with contextlib.suppress(Exception):
            env.close()


def _track(env: UR5Env) -> None:
    """Close ``env`` at interpreter exit if nobody did (the hook is registered with the first env)."""
    global _EXIT_HOOK
    if not _EXIT_HOOK:
        atexit.register(_close_live_envs)
        _EXIT_HOOK = True
    _LIVE.add(env)


class UR5Env(LanguageMotionEnv):
    """A :class:`LanguageMotionEnv` whose backend is a :class:`~cliprt_envs.ur5.backend.UR5Backend`."""

    task: RealTask

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fault = ""
        self._closed = False
        _track(self)

    # -- a person's verdict ---------------------------------------------------------
    def report_success(self, success: bool = True) -> None:
        """A person says the task is done (teleop's ``success``, the app's button)."""
        self.task.reported_success = bool(success)

    # -- gymnasium API ------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        options = dict(options or {})
        self.backend.recover()  # reconnects if the connection was lost; raises if a person must act
        self.fault = ""
        if "state" not in options:
            self.backend.go_home()
            self.task.next_instruction = options.get("instruction")
        obs, info = super().reset(seed=seed, options=options)
        info["fault"] = ""
        return obs, info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self.fault:
            raise RobotFaultError(f"the episode ended on {self.fault}; call reset() (it reconnects and returns home)")
        motion_id, delta, clipped = self._parse_action(action)
        result = self.backend.move(delta)
        self.elapsed_steps += 1
        fault = str(result.extra.get("fault", ""))
        try:
            obs = self._observe()
        except CameraTimeout as exc:
            log.warning("%s", exc)
            fault = fault or CAMERA_TIMEOUT
            self.backend.halt(fault)
            obs = self._stale_observation()
        success = bool(self.task.success(self.backend))
        reward = float(self.task.reward(self.backend)) if self.reward_type == "dense" else float(success)
        self.fault = fault
        info = self._step_info(motion_id, result, success)
        info.update(
            action_clipped=clipped,
            fault=fault,
            refused=str(result.extra.get("refused", "")),
            planned_duration_s=float(result.extra.get("planned_duration_s", 0.0)),
            camera_frames_dropped=int(getattr(self.camera, "dropped_frames", 0)),
        )
        terminated = success and self.terminate_on_success and not fault
        return obs, reward, terminated, bool(fault), info

    def close(self) -> None:
        """Stop the arm and the script first, then release the cameras; also on Ctrl-C (held until done)."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        with deferred_interrupts():
            for part in (self.backend, self.camera, self.wrist_camera, self.render_camera):
                if part is None:
                    continue
                try:
                    part.close()
                except Exception as exc:  # every part is closed whatever one of them does
                    log.warning("closing %s: %s", type(part).__name__, exc)

    # -- helpers --------------------------------------------------------------------
    def _observe(self) -> dict[str, Any]:
        obs = super()._observe()
        self.task.last_observation = obs
        return obs

    def _stale_observation(self) -> dict[str, Any]:
        image = (
            self._last_image if self._last_image is not None else np.zeros((self.camera.height, self.camera.width, 3), np.uint8)
        )
        obs = {"image": image, "instruction": self.instruction, "proprio": self.proprio()}
        if self.wrist_camera is not None:
            obs["wrist_image"] = np.zeros((self.wrist_camera.height, self.wrist_camera.width, 3), np.uint8)
        return obs

    def _reset_info(self) -> dict[str, Any]:
        return {"task": self.task.name, "is_success": False}
