"""Build a LIBERO env: ``gym.make("CLIPRT-LIBERO-Spatial-v0", task_index=3)`` lands here.

Options of :func:`make_libero_env`: ``suite`` (spatial, object, goal, 10, 90) and
``task_index``; ``image_size`` (int or ``(height, width)``) sizes the ``camera``
image (:data:`CAMERAS`) and, with ``wrist_camera=True``, the wrist image;
``image_orientation`` is ``"upright"`` (default), ``"openvla"`` (turned 180
degrees, what OpenVLA / CLIP-RT LIBERO checkpoints saw) or ``"raw"`` (LIBERO's
upside-down frames). ``continuous=True`` takes LIBERO's native 7-D action.
``shadows=True`` turns shadows and reflections back on (off by default: about
twice as fast in software rendering); ``hard_reset=True`` rebuilds the model at
each reset as LIBERO does by default (same initial states, 2-8 s slower).
``max_control_steps`` defaults to the suite's official limit; ``libero_config``
(:class:`~cliprt_envs.libero.backend.LiberoConfig`) sets motion tolerances and
step caps; ``assets_dir`` a LIBERO assets folder to use instead of the
installed asset wheels. ``render_mode="rgb_array"`` with ``render_size`` /
``render_camera`` gives ``render()`` a separate view for people (videos).
"""

from __future__ import annotations

import numbers
import os
from dataclasses import replace
from typing import Any

import numpy as np

from cliprt_envs.language_env import InvalidEnvOptionError, InvalidEnvOptionTypeError, reject_unknown_options
from cliprt_envs.libero.suites import libero_suite
from cliprt_envs.motions import Vocabulary

#: Cameras that can give the main image (``wrist_camera=True`` adds the wrist view).
CAMERAS = ("agentview", "wrist", "frontview", "sideview")
DEFAULT_IMAGE_SIZE = 128  # LIBERO's demonstrations; the official evaluation renders 256

_OPTIONS = (
    "suite",
    "task_index",
    "image_size",
    "camera",
    "wrist_camera",
    "vocabulary",
    "continuous",
    "render_mode",
    "reward_type",
    "render_size",
    "render_camera",
    "image_orientation",
    "shadows",
    "hard_reset",
    "max_control_steps",
    "libero_config",
    "assets_dir",
)


def _image_size(image_size: object) -> tuple[int, int]:
    from cliprt_envs.sim.make import image_size_pair  # the twin's rule (imports MuJoCo, which LIBERO loads anyway)

    return image_size_pair(image_size)


def _check(suite_tasks: int, task_index: object, camera: object, render_camera: object) -> int:
    if isinstance(task_index, (bool, np.bool_)) or not isinstance(task_index, numbers.Integral):
        raise InvalidEnvOptionTypeError(f"task_index must be an int 0..{suite_tasks - 1}, got {task_index!r}")
    if not 0 <= int(task_index) < suite_tasks:
        raise InvalidEnvOptionError(f"task_index must be 0..{suite_tasks - 1} for this suite, got {task_index}")
    for name, value in (("camera", camera), ("render_camera", render_camera)):
        if value is not None and value not in CAMERAS:
            raise InvalidEnvOptionError(f"{name} must be one of {', '.join(CAMERAS)}; got {value!r}")
    return int(task_index)


def _check_flags(**flags: object) -> None:
    for name, flag in flags.items():
        if not isinstance(flag, (bool, np.bool_)):
            raise InvalidEnvOptionTypeError(f"{name} must be True or False, got {flag!r}")


def _libero_config(libero_config: object):
    from cliprt_envs.libero.backend import LiberoConfig

    if libero_config is None:
        return LiberoConfig()
    if not isinstance(libero_config, LiberoConfig):
        raise InvalidEnvOptionTypeError(f"libero_config must be a LiberoConfig, got {type(libero_config).__name__}")
    return libero_config


def _cameras(backend, camera, size, orientation, wrist_camera, render_mode, render_size, render_camera) -> tuple:
    """The agent's camera, the optional wrist camera and the optional camera ``render()`` reads for people."""
    from cliprt_envs.libero.camera import LiberoCamera

    cam = LiberoCamera(backend, camera, *size, orientation=orientation)
    wrist = LiberoCamera(backend, "wrist", *size, orientation=orientation) if wrist_camera else None
    people = None
    if render_mode == "rgb_array" and (render_size is not None or render_camera is not None):
        side = int(render_size) if render_size is not None else size[0]
        people = LiberoCamera(backend, render_camera or camera, side, side)
    return cam, wrist, people


def make_libero_env(
    suite: str = "spatial",
    task_index: int = 0,
    *,
    image_size: int | tuple[int, int] = DEFAULT_IMAGE_SIZE,
    camera: str = "agentview",
    wrist_camera: bool = False,
    vocabulary: Vocabulary | None = None,
    continuous: bool = False,
    render_mode: str | None = None,
    reward_type: str = "sparse",
    render_size: int | None = None,
    render_camera: str | None = None,
    image_orientation: str = "upright",
    shadows: bool = False,
    hard_reset: bool = False,
    max_control_steps: int | None = None,
    libero_config: Any = None,
    assets_dir: str | os.PathLike[str] | None = None,
    **unknown: Any,
):
    """A :class:`~cliprt_envs.libero.env.LiberoLanguageEnv` on task ``task_index`` of a LIBERO suite (module docstring)."""
    reject_unknown_options(unknown, _OPTIONS, "LIBERO")
    entry = libero_suite(suite)
    index = _check(entry.n_tasks, task_index, camera, render_camera)
    size = _image_size(image_size)
    _check_flags(wrist_camera=wrist_camera, shadows=shadows, hard_reset=hard_reset)
    if render_mode != "rgb_array" and (render_size is not None or render_camera is not None):
        raise InvalidEnvOptionError("render_size and render_camera need render_mode='rgb_array'")
    from cliprt_envs.libero.backend import LiberoBackend
    from cliprt_envs.libero.bootstrap import import_libero
    from cliprt_envs.libero.env import LiberoLanguageEnv
    from cliprt_envs.libero.task import LiberoTask

    config = replace(_libero_config(libero_config), shadows=bool(shadows), hard_reset=bool(hard_reset))
    backend = LiberoBackend(import_libero(assets_dir), entry, index, config)
    try:
        cam, wrist, people = _cameras(
            backend, camera, size, image_orientation, wrist_camera, render_mode, render_size, render_camera
        )
        return LiberoLanguageEnv(
            backend,
            cam,
            LiberoTask(entry.name, index, backend.instruction, backend.task_name),
            vocabulary,
            continuous=continuous,
            render_mode=render_mode,
            reward_type=reward_type,
            wrist_camera=wrist,
            render_camera=people,
            max_control_steps=max_control_steps if max_control_steps is not None else entry.max_control_steps,
        )
    except ValueError as exc:
        backend.close()
        raise InvalidEnvOptionError(str(exc)) from None
