"""Offscreen MuJoCo rendering as a :class:`~cliprt_envs.protocols.Camera`."""

from __future__ import annotations

import mujoco
import numpy as np


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
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        self._renderer.update_scene(self.data, camera=self.camera_id, scene_option=self._option)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
