"""Build a MuJoCo twin env: ``gym.make("CLIPRT-UR5Sim-Pick-v0")`` lands here."""

from __future__ import annotations

import importlib

from cliprt_envs.language_env import LanguageMotionEnv
from cliprt_envs.motions import Vocabulary
from cliprt_envs.registry import sim_task_entry
from cliprt_envs.sim.backend import MujocoUR5Backend, SimConfig
from cliprt_envs.sim.camera import MujocoCamera
from cliprt_envs.tasks.base import SimTask


def load_task(name: str, image_size: tuple[int, int]) -> SimTask:
    entry = sim_task_entry(name)
    module, cls = entry.task.split(":")
    return getattr(importlib.import_module(module), cls)(image_size=image_size)


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
) -> LanguageMotionEnv:
    """A :class:`LanguageMotionEnv` on the MuJoCo UR5 twin.

    ``image_size`` is an int (square) or ``(height, width)``.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"image_size must be >= 16 or a (height, width) pair, got {image_size!r}")
    sim_task = task if isinstance(task, SimTask) else load_task(task, size)
    backend = MujocoUR5Backend(sim_task.scene(), sim_config)
    cam = MujocoCamera(backend.model, backend.data, camera, *size)
    wrist = MujocoCamera(backend.model, backend.data, "wrist", *size) if wrist_camera else None
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
