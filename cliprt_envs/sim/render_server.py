"""Rendering in a helper process, for processes that cannot render themselves.

A process forked from one that had already created an EGL (or OSMesa) context
inherits the GL driver's state but not its threads (Mesa's llvmpipe renders on
worker threads); its first ``render()`` waits for them forever. That is what
``gymnasium.vector.AsyncVectorEnv`` (``fork`` start method, the Linux default
before Python 3.14) does after the parent made and rendered a sim env.

Such a process renders through :class:`RemoteRenderer`: a fresh interpreter
(``python -m cliprt_envs.sim.render_server``, started by exec, so it owns no
inherited GL state) holds a copy of the model, receives the physics state of
each frame over a socket, and returns the image. Images are identical to
in-process rendering; each frame costs one round trip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import weakref
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

_STATE = "mjSTATE_INTEGRATION"


def _serve(conn: Connection) -> None:
    import mujoco

    model, height, width = conn.recv()
    data = mujoco.MjData(model)
    spec = getattr(mujoco.mjtState, _STATE)
    renderer = mujoco.Renderer(model, height, width)
    option = mujoco.MjvOption()
    try:
        conn.send(("ready", None))
        while True:
            try:
                request = conn.recv()
            except EOFError:  # the client closed or died
                return
            if request is None:
                return
            state, camera_id = request
            try:
                mujoco.mj_setState(model, data, state, spec)
                mujoco.mj_forward(model, data)
                renderer.update_scene(data, camera=camera_id, scene_option=option)
                conn.send(("ok", renderer.render()))
            except Exception as exc:  # report, keep serving
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        renderer.close()


class RemoteRenderError(RuntimeError):
    """The helper render process failed or went away."""


class RemoteRenderer:
    """A ``mujoco.Renderer`` look-alike (``update_scene``/``render``/``close``) in a helper process."""

    def __init__(self, model: Any, height: int, width: int, timeout: float = 120.0) -> None:
        import mujoco

        self._mujoco = mujoco
        self._spec = getattr(mujoco.mjtState, _STATE)
        self._timeout = timeout
        self._state: np.ndarray | None = None
        self._camera_id = -1
        self._model = model
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cliprt_envs.sim.render_server", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._finalizer = weakref.finalize(self, _shutdown, self._conn, self._proc)
        self._conn.send((model, height, width))
        self._receive()

    def _receive(self) -> Any:
        if not self._conn.poll(self._timeout):
            self.close()
            raise RemoteRenderError(f"the helper render process did not answer within {self._timeout:.0f} s")
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._proc.poll()
            self.close()
            raise RemoteRenderError(
                f"the helper render process exited (code {code}); its error is printed above. "
                "Check that MUJOCO_GL rendering works: `cliprt doctor`"
            ) from exc
        if status == "error":
            raise RemoteRenderError(f"rendering in the helper process failed: {payload}")
        return payload

    def update_scene(self, data: Any, camera: int = -1, scene_option: Any = None) -> None:
        del scene_option  # the helper renders with the default MjvOption, as MujocoCamera does
        size = self._mujoco.mj_stateSize(self._model, self._spec)
        state = np.empty(size)
        self._mujoco.mj_getState(self._model, data, state, self._spec)
        self._state, self._camera_id = state, int(camera)

    def render(self) -> np.ndarray:
        if self._state is None:
            raise RemoteRenderError("update_scene() must be called before render()")
        if not self._finalizer.alive:
            raise RemoteRenderError("this renderer is closed")
        self._conn.send((self._state, self._camera_id))
        return self._receive()

    def close(self) -> None:
        self._finalizer()


def _shutdown(conn: Connection, proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        conn.send(None)
    conn.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
