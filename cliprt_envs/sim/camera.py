"""Offscreen MuJoCo rendering as a :class:`~cliprt_envs.protocols.Camera`."""

from __future__ import annotations

import importlib.util
import sys

import mujoco
import numpy as np


def _load_llvm_users_first() -> None:
    """Import triton (if installed) before the first OpenGL context exists.

    Mesa's software renderer (llvmpipe, used by EGL/OSMesa without a GPU) and
    triton (pulled in by torch/torchvision) both carry LLVM. If Mesa's is
    loaded first, importing triton later segfaults the process, which would
    break every policy that imports torch after an env rendered. Loading
    triton first is safe in both orders and costs ~0.2 s once.
    """
    if "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


class MujocoCamera:
    """Renders a named camera of a backend's model (headless: set ``MUJOCO_GL``)."""

    def __init__(
        self, model: mujoco.MjModel, data: mujoco.MjData, name: str = "front", height: int = 224, width: int = 224
    ) -> None:
        if height < 16 or width < 16:
            raise ValueError(f"image size must be at least 16x16, got {height}x{width}")
        if height > model.vis.global_.offheight or width > model.vis.global_.offwidth:
            model.vis.global_.offheight = max(height, model.vis.global_.offheight)
            model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
        try:
            self.camera_id = model.camera(name).id
        except KeyError:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"no camera {name!r}; the scene has {names}") from None
        self.model, self.data = model, data
        self.name, self.height, self.width = name, height, width
        self._renderer: mujoco.Renderer | None = None
        self._option = mujoco.MjvOption()

    def read(self) -> np.ndarray:
        if self._renderer is None:
            _load_llvm_users_first()
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        self._renderer.update_scene(self.data, camera=self.camera_id, scene_option=self._option)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
