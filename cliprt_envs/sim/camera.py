"""Offscreen MuJoCo rendering as a :class:`~cliprt_envs.protocols.Camera`.

Two process-level hazards of GL contexts are handled here, not by callers:

- At interpreter exit, MuJoCo's EGL module terminates the EGL display in an
  ``atexit`` hook; renderers garbage-collected after that raise ``EGLError``
  from ``__del__`` (a wall of "Exception ignored" tracebacks for any script
  that does not ``close()`` its env). :func:`_close_all_renderers` runs first
  (``atexit`` is last-in, first-out, and it is registered after MuJoCo's).
- A process forked after GL was initialised cannot render (see
  :mod:`cliprt_envs.sim.render_server`); such a process renders through a
  helper process instead of hanging.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import sys
import warnings
import weakref
from typing import Any

import mujoco
import numpy as np

from cliprt_envs.protocols import ClosesOnExit
from cliprt_envs.sim.scene import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE

#: Pid of the process that created this process's in-process renderers.
_GL_OWNER_PID: int | None = None
#: True in a process forked after GL was initialised (by our cameras or any
#: other mujoco.Renderer): rendering here would hang, so a helper process renders.
_FORKED_AFTER_GL = False
#: Cameras holding a live renderer, closed at exit before EGL is torn down.
_LIVE: weakref.WeakSet[MujocoCamera] = weakref.WeakSet()
_EXIT_HOOK_PID: int | None = None
_WARNED_REMOTE = False


def _after_fork_in_child() -> None:
    global _FORKED_AFTER_GL
    egl = sys.modules.get("mujoco.egl")
    if _GL_OWNER_PID is not None or getattr(egl, "EGL_DISPLAY", None) is not None:
        _FORKED_AFTER_GL = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_all_renderers() -> None:
    if os.getpid() != _EXIT_HOOK_PID:
        return  # a forked child's inherited hook: the renderers belong to the parent
    for camera in list(_LIVE):
        with contextlib.suppress(Exception):  # at exit, never make things worse
            camera.close()


@contextlib.contextmanager
def _multisamples(model: mujoco.MjModel, samples: int | None) -> Any:
    """Build a renderer with ``samples`` MSAA samples (None: the model's own); the model is left as it was.

    A renderer takes ``vis.quality.offsamples`` when its GL buffers are made, so other
    renderers of the same model keep theirs.
    """
    if samples is None:
        yield
        return
    before = model.vis.quality.offsamples
    model.vis.quality.offsamples = samples
    try:
        yield
    finally:
        model.vis.quality.offsamples = before


def _new_renderer(model: mujoco.MjModel, height: int, width: int, multisamples: int | None = None) -> Any:
    global _GL_OWNER_PID, _EXIT_HOOK_PID, _WARNED_REMOTE
    if _FORKED_AFTER_GL:
        from cliprt_envs.sim.render_server import RemoteRenderer

        if not _WARNED_REMOTE:
            _WARNED_REMOTE = True
            warnings.warn(
                "this process was forked after its parent rendered with MuJoCo, so it cannot render itself; "
                "rendering through a helper process instead (slower). For full speed start workers with "
                "'forkserver' or 'spawn', e.g. AsyncVectorEnv(env_fns, context='forkserver')",
                RuntimeWarning,
                stacklevel=4,
            )
        with _multisamples(model, multisamples):
            return RemoteRenderer(model, height, width)
    _load_llvm_users_first()
    try:
        with _multisamples(model, multisamples):
            renderer = mujoco.Renderer(model, height, width)
    except mujoco.FatalError as exc:
        if os.environ.get("MUJOCO_GL") or os.environ.get("DISPLAY") or not sys.platform.startswith("linux"):
            raise
        raise RuntimeError(
            "MuJoCo found no display to render with (DISPLAY and MUJOCO_GL are unset); on a headless machine "
            "set MUJOCO_GL=egl (a GPU or Mesa's EGL) or MUJOCO_GL=osmesa before starting Python; "
            f"`cliprt doctor` tells which works here ({exc})"
        ) from None
    _GL_OWNER_PID = os.getpid()
    if _EXIT_HOOK_PID != _GL_OWNER_PID:
        # After mujoco.Renderer, so after MuJoCo's own eglTerminate hook: ours runs first.
        _EXIT_HOOK_PID = _GL_OWNER_PID
        atexit.register(_close_all_renderers)
    return renderer


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


class MujocoCamera(ClosesOnExit):
    """Renders a named camera of a backend's model (headless: set ``MUJOCO_GL``); ``with camera:`` closes it.

    ``multisamples`` is its anti-aliasing (MSAA samples per pixel; None: the scene's own,
    4): 0 renders a 256 px frame about 3x faster on a CPU, with harder edges.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        name: str = "front",
        height: int = 224,
        width: int = 224,
        multisamples: int | None = None,
    ) -> None:
        if not (MIN_IMAGE_SIZE <= height <= MAX_IMAGE_SIZE and MIN_IMAGE_SIZE <= width <= MAX_IMAGE_SIZE):
            raise ValueError(
                f"image size must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels per side, got {height}x{width}"
            )
        if not isinstance(name, str):
            raise TypeError(f"a camera name is a str, got {type(name).__name__} {name!r}")
        if height > model.vis.global_.offheight or width > model.vis.global_.offwidth:
            model.vis.global_.offheight = max(height, model.vis.global_.offheight)
            model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
        try:
            self.camera_id = model.camera(name).id
        except KeyError:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"no camera {name!r}; the scene has {names}") from None
        self.model, self.data = model, data
        if multisamples is not None and not (isinstance(multisamples, int) and multisamples >= 0):
            raise ValueError(f"multisamples must be an int >= 0 or None, got {multisamples!r}")
        self.name, self.height, self.width = name, height, width
        self.multisamples = multisamples
        self._renderer: Any = None  # mujoco.Renderer, or a RemoteRenderer in a forked-after-GL process
        self._option = mujoco.MjvOption()

    def read(self) -> np.ndarray:
        if self._renderer is None:
            self._renderer = _new_renderer(self.model, self.height, self.width, self.multisamples)
            _LIVE.add(self)
        self._renderer.update_scene(self.data, camera=self.camera_id, scene_option=self._option)
        return self._renderer.render()

    def sees(self, point: np.ndarray) -> bool:
        """Whether a world point projects into this camera's image now: in front of it and inside its field of view.

        The vertical field of view is the model's ``fovy``; the horizontal one follows from the
        image's width and height. Nothing is rendered, so a point behind another object still counts.
        """
        cam = self.camera_id
        offset = np.asarray(point, dtype=np.float64) - self.data.cam_xpos[cam]
        x, y, z = self.data.cam_xmat[cam].reshape(3, 3).T @ offset  # camera frame: it looks along -z
        if z >= 0.0:
            return False
        half_height = np.tan(np.radians(self.model.cam_fovy[cam]) / 2.0)
        half_width = half_height * self.width / self.height
        return bool(abs(x / -z) <= half_width and abs(y / -z) <= half_height)

    def close(self) -> None:
        if self._renderer is not None:
            renderer, self._renderer = self._renderer, None
            _LIVE.discard(self)
            renderer.close()
