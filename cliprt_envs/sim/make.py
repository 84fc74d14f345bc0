"""Build a MuJoCo twin env: ``gym.make("CLIPRT-UR5Sim-Pick-v0")`` lands here."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cliprt_envs.language_env import (
    InvalidEnvOptionError,
    InvalidEnvOptionTypeError,
    LanguageMotionEnv,
    reject_unknown_options,
)
from cliprt_envs.motions import Vocabulary
from cliprt_envs.registry import sim_task_entry
from cliprt_envs.sim.backend import MujocoUR5Backend, SimConfig
from cliprt_envs.sim.camera import MujocoCamera
from cliprt_envs.sim.scene import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from cliprt_envs.sim.tasks.base import SimTask

#: Cameras of every scene that can give the main image (``wrist`` is the optional second one).
CAMERAS = ("front", "side", "wrist")
#: Anti-aliasing of the separate camera for people (``render_size``/``render_camera``): none. Its 256 px
#: frames render about 3x faster on a CPU without 4x MSAA; the agent's cameras keep the scene's own.
PEOPLE_VIEW_MULTISAMPLES = 0

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
    "render_size",
    "render_camera",
    "phrasings",
)


def load_task(name: str, image_size: tuple[int, int]) -> SimTask:
    return sim_task_entry(name).task_class(image_size=image_size)


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


def render_side(render_size: object) -> int:
    """The side of the square ``render()`` frame, or an error naming the option and the valid range."""
    valid = f"an int {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE} (a square frame for videos), e.g. render_size=256"
    if isinstance(render_size, (bool, np.bool_)) or not isinstance(render_size, numbers.Real):
        raise InvalidEnvOptionTypeError(f"render_size must be {valid}; got {type(render_size).__name__} {render_size!r}")
    if not isinstance(render_size, numbers.Integral) and not float(render_size).is_integer():
        raise InvalidEnvOptionTypeError(f"render_size must be {valid}; got {type(render_size).__name__} {render_size!r}")
    n = int(render_size)
    if not MIN_IMAGE_SIZE <= n <= MAX_IMAGE_SIZE:
        raise InvalidEnvOptionError(f"render_size must be {valid}; got {render_size!r}")
    return n


def _render_view(
    render_mode: object, render_size: object, render_camera: object, image_size: tuple[int, int]
) -> tuple[str, int, int] | None:
    """``(camera, height, width)`` of the separate camera ``render()`` reads, or None (it shows the observation)."""
    if render_size is None and render_camera is None:
        return None
    if render_camera is not None and (not isinstance(render_camera, str) or render_camera not in CAMERAS):
        raise InvalidEnvOptionError(f"render_camera must be one of {', '.join(map(repr, CAMERAS))}; got {render_camera!r}")
    height, width = image_size if render_size is None else (render_side(render_size),) * 2
    if render_mode != "rgb_array":
        raise InvalidEnvOptionError(
            f"render_size and render_camera shape what render() returns, so they need render_mode='rgb_array'; "
            f"got render_mode={render_mode!r}"
        )
    return render_camera or "front", height, width


def _check_options(camera: object, wrist_camera: object, sim_config: object, task: object) -> None:
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
    render_size: int | None = None,
    render_camera: str | None = None,
    phrasings: str = "train",
    **unknown: Any,
) -> LanguageMotionEnv:
    """A :class:`LanguageMotionEnv` on the MuJoCo UR5 twin.

    ``image_size`` is an int (square) or ``(height, width)``, each side
    between ``MIN_IMAGE_SIZE`` (16) and ``MAX_IMAGE_SIZE`` (1024) pixels: larger
    frames take seconds each to render in software and fill memory fast.
    ``camera`` is one of :data:`CAMERAS`; ``wrist_camera=True`` adds the wrist
    view as ``obs["wrist_image"]``.

    With ``render_mode="rgb_array"``, ``render_size`` (an int, same range)
    and/or ``render_camera`` (one of :data:`CAMERAS`, default ``"front"``) make
    ``render()`` return a fresh ``render_size`` x ``render_size`` frame from a
    separate camera (for videos people watch) instead of the observation image;
    that camera renders without anti-aliasing (:data:`PEOPLE_VIEW_MULTISAMPLES`),
    the agent's cameras with the scene's.

    ``phrasings="held_out"`` draws instructions from the task's held-out
    phrasings (never in any dataset), to measure generalisation to new words.
    """
    reject_unknown_options(unknown, _OPTIONS, "sim")
    size = image_size_pair(image_size)
    _check_options(camera, wrist_camera, sim_config, task)
    view = _render_view(render_mode, render_size, render_camera, size)
    sim_task = task if isinstance(task, SimTask) else load_task(task, size)
    try:
        sim_task.use_phrasings(phrasings)
    except ValueError as exc:
        raise InvalidEnvOptionError(str(exc)) from None
    backend = MujocoUR5Backend(sim_task.scene(), sim_config)
    cam = MujocoCamera(backend.model, backend.data, camera, *size)
    wrist = MujocoCamera(backend.model, backend.data, "wrist", *size) if bool(wrist_camera) else None
    people = MujocoCamera(backend.model, backend.data, *view, multisamples=PEOPLE_VIEW_MULTISAMPLES) if view is not None else None
    return LanguageMotionEnv(
        backend,
        cam,
        sim_task,
        vocabulary,
        continuous=continuous,
        render_mode=render_mode,
        reward_type=reward_type,
        wrist_camera=wrist,
        render_camera=people,
    )
