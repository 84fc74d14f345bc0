"""Build a MuJoCo twin env: ``gym.make("CLIPRT-UR5Sim-Pick-v0")`` lands here."""

from __future__ import annotations

import difflib
import importlib
import numbers
from typing import Any

import numpy as np

from cliprt_envs.language_env import InvalidEnvOptionError, InvalidEnvOptionTypeError, LanguageMotionEnv
from cliprt_envs.motions import Vocabulary
from cliprt_envs.registry import sim_task_entry
from cliprt_envs.sim.backend import MujocoUR5Backend, SimConfig
from cliprt_envs.sim.camera import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, MujocoCamera
from cliprt_envs.tasks.base import SimTask

#: Cameras of every scene that can give the main image (``wrist`` is the optional second one).
CAMERAS = ("front", "side", "wrist")

_OPTIONS = (
    "task",
    "image_size",
    "camera",
    "wrist_camera",
    "vocabulary",
    "continuous",
    "render_mode",
    "reward_type",
    "sim_config",
)


def load_task(name: str, image_size: tuple[int, int]) -> SimTask:
    entry = sim_task_entry(name)
    module, cls = entry.task.split(":")
    return getattr(importlib.import_module(module), cls)(image_size=image_size)


def image_size_pair(image_size: object) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair, or an error naming the option and the valid range."""
    valid = f"an int (square) or a (height, width) pair of ints, each {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE}, e.g. image_size=224"

    def side(value: object) -> int:
        if isinstance(value, (bool, np.bool_)):
            raise InvalidEnvOptionTypeError(f"image_size must be {valid}; got bool {value!r}")
        if not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and float(value).is_integer():
                return side(int(value))  # 224.0 (e.g. from a YAML/JSON config) is fine
            raise InvalidEnvOptionTypeError(f"image_size must be {valid}; got {type(value).__name__} {value!r}")
        n = int(value)
        if not MIN_IMAGE_SIZE <= n <= MAX_IMAGE_SIZE:
            raise InvalidEnvOptionError(f"image_size must be {valid}; got {image_size!r}")
        return n

    if isinstance(image_size, (str, bytes, bool, np.bool_)) or image_size is None:
        raise InvalidEnvOptionTypeError(f"image_size must be {valid}; got {type(image_size).__name__} {image_size!r}")
    if isinstance(image_size, (numbers.Real)):
        n = side(image_size)
        return n, n
    try:
        values = tuple(image_size)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidEnvOptionTypeError(f"image_size must be {valid}; got {type(image_size).__name__} {image_size!r}") from None
    if len(values) != 2:
        raise InvalidEnvOptionError(f"image_size must be {valid}; got {len(values)} values {image_size!r}")
    return side(values[0]), side(values[1])


def make_sim_env(
    task: str | SimTask = "Pick",
    *,
    image_size: int | tuple[int, int] = 224,
    camera: str = "front",
    wrist_camera: bool = False,
    vocabulary: Vocabulary | None = None,
    continuous: bool = False,
    render_mode: str | None = None,
    reward_type: str = "sparse",
    sim_config: SimConfig | None = None,
    **unknown: Any,
) -> LanguageMotionEnv:
    """A :class:`LanguageMotionEnv` on the MuJoCo UR5 twin.

    ``image_size`` is an int (square) or ``(height, width)``, each side
    between ``MIN_IMAGE_SIZE`` (16) and ``MAX_IMAGE_SIZE`` (1024) pixels: larger
    frames take seconds each to render in software and fill memory fast.
    ``camera`` is one of :data:`CAMERAS`; ``wrist_camera=True`` adds the wrist
    view as ``obs["wrist_image"]``.
    """
    if unknown:
        hints = []
        for name in sorted(unknown):
            close = difflib.get_close_matches(name, _OPTIONS, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise InvalidEnvOptionTypeError(f"unknown sim env option {', '.join(hints)}; the options are {', '.join(_OPTIONS)}")
    size = image_size_pair(image_size)
    if not isinstance(camera, str) or camera not in CAMERAS:
        raise InvalidEnvOptionError(f"camera must be one of {', '.join(map(repr, CAMERAS))}; got {camera!r}")
    if not isinstance(wrist_camera, (bool, np.bool_)):
        raise InvalidEnvOptionTypeError(f"wrist_camera must be True or False; got {type(wrist_camera).__name__} {wrist_camera!r}")
    if sim_config is not None and not isinstance(sim_config, SimConfig):
        raise InvalidEnvOptionTypeError(
            f"sim_config must be a cliprt_envs.sim.backend.SimConfig or None; got {type(sim_config).__name__}"
        )
    if not isinstance(task, (str, SimTask)):
        raise InvalidEnvOptionTypeError(f"task must be a task name (e.g. 'Pick') or a SimTask; got {type(task).__name__}")
    sim_task = task if isinstance(task, SimTask) else load_task(task, size)
    backend = MujocoUR5Backend(sim_task.scene(), sim_config)
    cam = MujocoCamera(backend.model, backend.data, camera, *size)
    wrist = MujocoCamera(backend.model, backend.data, "wrist", *size) if bool(wrist_camera) else None
    return LanguageMotionEnv(
        backend,
        cam,
        sim_task,
        vocabulary,
        continuous=continuous,
        render_mode=render_mode,
        reward_type=reward_type,
        wrist_camera=wrist,
    )
