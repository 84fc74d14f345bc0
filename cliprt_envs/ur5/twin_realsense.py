"""A ``pyrealsense2`` double: one camera whose colour frames are the twin's front view, rendered by MuJoCo.

The classes carry the names and call signatures of the installed
``pyrealsense2`` (``context.query_devices``, ``config.enable_device``,
``config.enable_stream``, ``pipeline.start``/``try_wait_for_frames``/
``wait_for_frames``/``stop``, ``composite_frame.get_color_frame``,
``frame.get_data``/``get_frame_number``, ``align.process``); the module-like
:class:`TwinRealSense` holds them bound to one twin. A dead camera blocks
for the requested timeout, as the real one does.
"""

from __future__ import annotations

import enum
import time
from typing import Any

import numpy as np


class stream(enum.Enum):
    color = 2
    depth = 1


class format(enum.Enum):
    rgb8 = 5
    z16 = 1


class camera_info(enum.Enum):
    name = 0
    serial_number = 1


class TwinFrame:
    """``pyrealsense2.frame`` / ``video_frame``: falsy when empty."""

    def __init__(self, data: np.ndarray | None, number: int) -> None:
        self._data, self._number = data, number

    def __bool__(self) -> bool:
        return self._data is not None

    def get_data(self) -> np.ndarray:
        if self._data is None:
            raise RuntimeError('null pointer passed for argument "frame"')
        return self._data

    def get_frame_number(self) -> int:
        return self._number

    def get_timestamp(self) -> float:
        return time.time() * 1000.0


class TwinFrameset:
    """``pyrealsense2.composite_frame``."""

    def __init__(self, color: TwinFrame, depth: TwinFrame) -> None:
        self._color, self._depth = color, depth

    def get_color_frame(self, index: int = 0) -> TwinFrame:
        return self._color

    def get_depth_frame(self) -> TwinFrame:
        return self._depth


class TwinDevice:
    def __init__(self, serial: str) -> None:
        self.serial = serial

    def get_info(self, info: camera_info) -> str:
        return self.serial if info == camera_info.serial_number else "Intel RealSense D435 (MuJoCo twin)"


class TwinConfig:
    """``pyrealsense2.config``."""

    def __init__(self) -> None:
        self.serial = ""
        self.streams: dict[stream, tuple[int, int, format, int]] = {}

    def enable_device(self, serial: str) -> None:
        self.serial = serial

    def enable_stream(self, stream_type: stream, width: int, height: int, format: format, framerate: int) -> None:
        self.streams[stream_type] = (width, height, format, framerate)


class TwinAlign:
    """``pyrealsense2.align``: the twin's depth is rendered from the colour camera, so already aligned."""

    def __init__(self, align_to: stream) -> None:
        self.align_to = align_to

    def process(self, frames: TwinFrameset) -> TwinFrameset:
        return frames


class TwinRealSense:
    """Module-like: ``rs = twin.realsense(); rs.pipeline(); rs.config(); rs.context().query_devices()``."""

    stream = stream
    format = format
    camera_info = camera_info
    config = TwinConfig
    align = TwinAlign

    def __init__(self, twin: Any, serial: str | None = None) -> None:
        from cliprt_envs.ur5.twin import TWIN_SERIAL, TWIN_WRIST_SERIAL

        self.twin = twin
        self.serial = TWIN_SERIAL if serial is None else serial
        #: serial -> the twin's MuJoCo camera it shows; the wrist camera is plugged in on demand.
        self.views = {self.serial: "front"}
        self.wrist_serial = TWIN_WRIST_SERIAL
        self.plugged_in = True
        owner = self

        class context:
            def query_devices(self) -> list[TwinDevice]:
                return [TwinDevice(s) for s in owner.views] if owner.plugged_in else []

        class pipeline(TwinPipeline):
            realsense = owner

        self.context = context
        self.pipeline = pipeline

    def plug_in_wrist_camera(self) -> str:
        """A second RealSense on the wrist (the twin's wrist view); returns its serial."""
        self.views[self.wrist_serial] = "wrist"
        return self.wrist_serial

    def __deepcopy__(self, memo: dict[int, Any]) -> TwinRealSense:
        return self  # a module stand-in: shared, never copied


class TwinPipeline:
    """``pyrealsense2.pipeline``."""

    realsense: TwinRealSense

    def __init__(self, ctx: Any = None) -> None:
        self._camera: Any = None
        self._number = 0
        self._last: np.ndarray | None = None
        self._queued: np.ndarray | None = None

    def start(self, config: TwinConfig) -> object:
        rs = self.realsense
        serial = config.serial or next(iter(rs.views))
        if not rs.plugged_in or serial not in rs.views:
            time.sleep(0.05)  # the real one blocks ~15 s here; the camera class lists devices first
            raise RuntimeError("No device connected")
        width, height, fmt, _fps = config.streams[stream.color]
        if fmt != format.rgb8:
            raise RuntimeError(f"Couldn't resolve requests: colour format {fmt}")
        from cliprt_envs.sim.camera import MujocoCamera

        sim = rs.twin.sim
        self._camera = MujocoCamera(sim.model, sim.data, rs.views[serial], height, width)
        return object()

    def try_wait_for_frames(self, timeout_ms: int = 5000) -> tuple[bool, TwinFrameset]:
        twin = self.realsense.twin
        if self._camera is None:
            raise RuntimeError("try_wait_for_frames cannot be called before start()")
        if twin.camera_dead:
            time.sleep(timeout_ms / 1000.0)
            return False, TwinFrameset(TwinFrame(None, 0), TwinFrame(None, 0))
        if twin.stale_frames > 0 and self._last is not None:
            twin.stale_frames -= 1
            return True, self._frameset(self._last)
        self._number += 1 + twin.skip_frames
        twin.skip_frames = 0
        with twin.lock:
            fresh = self._camera.read().copy()
        # Like the device's frame queue, the frame handed out was captured before this call (here: at the
        # previous one); only the next one is exposed now. A camera must skip one to see the arm at rest.
        self._last = fresh if self._queued is None else self._queued
        self._queued = fresh
        return True, self._frameset(self._last)

    def wait_for_frames(self, timeout_ms: int = 5000) -> TwinFrameset:
        ok, frames = self.try_wait_for_frames(timeout_ms)
        if not ok:
            raise RuntimeError(f"Frame didn't arrive within {timeout_ms}")
        return frames

    def stop(self) -> None:
        if self._camera is None:
            raise RuntimeError("stop() cannot be called before start()")
        camera, self._camera = self._camera, None
        camera.close()

    def _frameset(self, image: np.ndarray) -> TwinFrameset:
        depth = np.full(image.shape[:2], 500, dtype=np.uint16)  # a flat 0.5 m (the twin renders no depth)
        return TwinFrameset(TwinFrame(image, self._number), TwinFrame(depth, self._number))
