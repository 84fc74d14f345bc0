"""Build the real-UR5 env: ``gym.make("CLIPRT-UR5-v0", config="robot.yaml")`` lands here."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from cliprt_envs.language_env import (
    InvalidEnvOptionError,
    InvalidEnvOptionTypeError,
    continuous_action_bounds,
    reject_unknown_options,
)
from cliprt_envs.motions import Vocabulary, default_vocabulary
from cliprt_envs.ur5.config import HOW_TO_WRITE, RobotConfig, load_robot_config, robot_config

_OPTIONS = (
    "config",
    "drivers",
    "realsense",
    "vocabulary",
    "continuous",
    "render_mode",
    "reward_type",
    "image_size",
    "speed_scale",
    "success_detector",
    "render_size",
)


def resolve_config(config: object) -> RobotConfig:
    """A :class:`RobotConfig` from a config, a mapping or a YAML/TOML path; a clear error without one."""
    if config is None:
        raise InvalidEnvOptionError(f"CLIPRT-UR5-v0 needs a robot config (config=...): {HOW_TO_WRITE}")
    if isinstance(config, RobotConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_robot_config(config)
    if isinstance(config, dict):
        return robot_config(config)
    raise InvalidEnvOptionTypeError(
        f"config must be a path to a YAML/TOML file, a mapping or a RobotConfig; got {type(config).__name__}"
    )


def _with_options(config: RobotConfig, image_size: object, speed_scale: object) -> RobotConfig:
    import dataclasses

    if speed_scale is not None:
        if isinstance(speed_scale, bool) or not isinstance(speed_scale, numbers.Real) or not 0 < float(speed_scale) <= 1:
            raise InvalidEnvOptionError(f"speed_scale is a fraction in (0, 1] of the config's limits, got {speed_scale!r}")
        config = config.with_speed_scale(float(speed_scale))
    if image_size is not None:
        if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
            size = (int(image_size), int(image_size))
        elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
            size = (int(image_size[0]), int(image_size[1]))
        else:
            raise InvalidEnvOptionTypeError(f"image_size is an int or a (height, width) pair, got {image_size!r}")
        config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, resize=size))
    return config


def _render_view(camera: Any, render_mode: object, render_size: object) -> Any:
    if render_size is None:
        return None
    if isinstance(render_size, bool) or not isinstance(render_size, numbers.Integral) or not 16 <= int(render_size) <= 1024:
        raise InvalidEnvOptionError(f"render_size is an int 16..1024 (a square frame for videos), got {render_size!r}")
    if render_mode != "rgb_array":
        raise InvalidEnvOptionError(f"render_size needs render_mode='rgb_array', got render_mode={render_mode!r}")
    from cliprt_envs.ur5.camera import RenderView

    return RenderView(camera, int(render_size))


def make_ur5_env(
    config: RobotConfig | str | Path | dict[str, Any] | None = None,
    *,
    drivers: Any = None,
    realsense: Any = None,
    vocabulary: Vocabulary | None = None,
    continuous: bool = False,
    render_mode: str | None = None,
    reward_type: str = "sparse",
    image_size: int | tuple[int, int] | None = None,
    speed_scale: float | None = None,
    success_detector: Any = None,
    render_size: int | None = None,
    **unknown: Any,
) -> Any:
    """A connected :class:`~cliprt_envs.ur5.env.UR5Env` (the arm is not moved until ``reset()``).

    ``config`` is a :class:`RobotConfig`, a mapping, or a YAML/TOML path (see
    ``cliprt_envs/ur5/example_robot.yaml``). ``image_size`` overrides the
    config's ``camera.resize``; ``speed_scale`` (0..1] slows every move (first
    runs). ``render_size`` (with ``render_mode="rgb_array"``) makes ``render()``
    return the camera's last frame at that square size (videos). ``drivers``
    (:class:`~cliprt_envs.ur5.connection.UR5Drivers`) and ``realsense`` (the
    ``pyrealsense2`` module) default to the real ones; tests pass the MuJoCo
    twin's doubles (:mod:`cliprt_envs.ur5.twin`). Connecting is bounded by
    ``connect_timeout_s``; a failure closes what was opened.
    """
    reject_unknown_options(unknown, _OPTIONS, "UR5")
    cfg = _with_options(resolve_config(config), image_size, speed_scale)
    from cliprt_envs.ur5.backend import UR5Backend
    from cliprt_envs.ur5.camera import RealSenseCamera
    from cliprt_envs.ur5.env import RealTask, UR5Env

    vocab = vocabulary if vocabulary is not None else default_vocabulary()
    if not isinstance(vocab, Vocabulary):
        raise InvalidEnvOptionTypeError(f"vocabulary must be a cliprt_envs.Vocabulary, got {type(vocab).__name__}")
    backend = UR5Backend(cfg, continuous_action_bounds(vocab)[1], drivers)
    camera = RealSenseCamera(cfg.camera, realsense)
    wrist = RealSenseCamera(cfg.wrist_camera, realsense) if cfg.wrist_camera is not None else None
    view = _render_view(camera, render_mode, render_size)  # checked before anything connects
    options = {"continuous": continuous, "render_mode": render_mode, "reward_type": reward_type}
    try:
        backend.connect()
        for cam in (camera, wrist):
            if cam is not None:
                cam.open()
        task = RealTask(cfg.task_name, cfg.instruction, success_detector)
        return UR5Env(backend, camera, task, vocab, wrist_camera=wrist, render_camera=view, **options)
    except BaseException:
        for part in (backend, camera, wrist):
            if part is not None:
                part.close()
        raise
