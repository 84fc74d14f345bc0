"""A RealSense colour stream as a :class:`~cliprt_envs.protocols.Camera` (``pyrealsense2``).

``pipeline.start()`` with no camera attached blocks about 15 s, so
:meth:`RealSenseCamera.open` first lists the devices
(``rs.context().query_devices()``) and fails at once with what to plug in.
:meth:`RealSenseCamera.read` returns a frame *newer* than the last one it
returned, waiting at most ``camera.timeout_s``; otherwise it raises
:class:`CameraTimeout` (the env ends the episode).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from cliprt_envs.protocols import ClosesOnExit
from cliprt_envs.ur5.config import CameraConfig
from cliprt_envs.ur5.connection import UR5_EXTRA


class CameraTimeout(RuntimeError):
    """No fresh frame arrived within the camera's timeout."""


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an ``(h, w, c)`` uint8 image (numpy only)."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    ys = np.clip((np.arange(height) + 0.5) * h / height - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * w / width - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return np.clip(top * (1 - fy) + bottom * fy + 0.5, 0, 255).astype(np.uint8)


def list_cameras(rs: Any) -> list[str]:
    """Serial numbers of the connected RealSense devices (fast; never starts a stream)."""
    devices = rs.context().query_devices()
    return [devices[i].get_info(rs.camera_info.serial_number) for i in range(len(devices))]


def stream_request(rs: Any, config: CameraConfig, serial: str) -> Any:
    """The ``rs.config`` asking ``serial`` for rgb8 colour (and z16 depth) at the configured size and rate."""
    request = rs.config()
    request.enable_device(serial)
    request.enable_stream(rs.stream.color, config.width, config.height, rs.format.rgb8, config.fps)
    if config.depth:
        request.enable_stream(rs.stream.depth, config.width, config.height, rs.format.z16, config.fps)
    return request


def load_realsense() -> Any:
    try:
        import pyrealsense2
    except ImportError as exc:
        from cliprt_envs.errors import MissingExtraError

        raise MissingExtraError(f"the RealSense camera needs pyrealsense2 ({exc}); {UR5_EXTRA}") from None
    return pyrealsense2


class RealSenseCamera(ClosesOnExit):
    """One RealSense colour stream, cropped and resized; ``realsense`` is the module (a double in tests)."""

    def __init__(self, config: CameraConfig, realsense: Any = None) -> None:
        self.config = config
        self.height, self.width = config.resize
        self._rs = realsense
        self._pipeline: Any = None
        self._align: Any = None
        self._last_number = -1
        self.last_depth: np.ndarray | None = None
        self.last_frame: np.ndarray | None = None  # the last frame after the crop, before the resize
        self.dropped_frames = 0  # frames the stream skipped (gaps in frame numbers) since open()
        self.serial = ""

    def open(self) -> None:
        """Find the camera (fails at once if absent) and start streaming."""
        if self._pipeline is not None:
            return
        rs = self._rs = self._rs or load_realsense()
        self.serial = self._choose(list_cameras(rs))
        cfg = stream_request(rs, self.config, self.serial)
        c = self.config
        self._align = rs.align(rs.stream.color) if c.depth and c.align_depth else None
        pipeline = rs.pipeline()
        try:
            pipeline.start(cfg)
        except RuntimeError as exc:
            raise ConnectionError(
                f"camera {self.serial} did not start {c.width}x{c.height} rgb8 at {c.fps} fps ({exc}): "
                "check that the mode exists (rs-enumerate-devices) and that the camera is on a USB 3 port"
            ) from None
        self._pipeline = pipeline
        self._last_number = -1

    def read(self) -> np.ndarray:
        """A fresh ``(height, width, 3)`` uint8 frame, or :class:`CameraTimeout`."""
        if self._pipeline is None:
            self.open()
        color = self._fresh_frame()
        image = np.asanyarray(color.get_data())
        c = self.config
        if image.shape != (c.height, c.width, 3):
            raise CameraTimeout(f"the camera sent a {image.shape} frame, expected ({c.height}, {c.width}, 3)")
        if c.crop is not None:
            top, left, h, w = c.crop
            image = image[top : top + h, left : left + w]
        self.last_frame = np.ascontiguousarray(image)
        return np.ascontiguousarray(resize_image(image, self.height, self.width))

    def close(self) -> None:
        """Stop streaming and release the device; safe to call twice."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            with contextlib.suppress(RuntimeError):  # already stopped (e.g. unplugged)
                pipeline.stop()

    # -- internals ---------------------------------------------------------------
    def _choose(self, serials: list[str]) -> str:
        wanted = self.config.serial
        if not serials:
            raise ConnectionError(
                "no RealSense camera found (rs.context().query_devices() is empty): plug it into a USB 3 port; "
                "`rs-enumerate-devices` or `cliprt doctor --ur5 HOST` should list it"
            )
        if wanted:
            if wanted not in serials:
                raise ConnectionError(f"no RealSense camera with serial {wanted!r}; connected: {', '.join(serials)}")
            return wanted
        if len(serials) > 1:
            raise ValueError(f"several RealSense cameras ({', '.join(serials)}): set camera.serial in the robot config")
        return serials[0]

    def _fresh_frame(self) -> Any:
        """The ``flush_frames + 1``-th frame newer than the last one returned (older ones may predate a move)."""
        color = None
        for _ in range(self.config.flush_frames + 1):
            color = self._next_frame()
            number = int(color.get_frame_number())
            if self._last_number >= 0 and number > self._last_number + 1:
                self.dropped_frames += number - self._last_number - 1  # gaps: frames the stream lost
            self._last_number = number
        return color

    def _next_frame(self) -> Any:
        deadline = time.monotonic() + self.config.timeout_s
        while True:
            left_ms = max(1, int((deadline - time.monotonic()) * 1000))
            ok, frames = self._pipeline.try_wait_for_frames(left_ms)
            if ok:
                if self._align is not None:
                    frames = self._align.process(frames)
                color = frames.get_color_frame()
                if color and int(color.get_frame_number()) > self._last_number:
                    if self.config.depth:
                        depth = frames.get_depth_frame()
                        self.last_depth = np.asanyarray(depth.get_data()).copy() if depth else None
                    return color
            if time.monotonic() >= deadline:
                raise CameraTimeout(
                    f"no new frame from camera {self.serial} within {self.config.timeout_s} s "
                    "(unplugged, a USB 2 port, or another program holds it)"
                )


class RenderView(ClosesOnExit):
    """What ``render()`` shows people (videos): the camera's last frame at ``size`` x ``size``, no extra capture."""

    def __init__(self, camera: RealSenseCamera, size: int) -> None:
        self.camera = camera
        self.height = self.width = int(size)

    def read(self) -> np.ndarray:
        if self.camera.last_frame is None:
            self.camera.read()
        assert self.camera.last_frame is not None
        return resize_image(self.camera.last_frame, self.height, self.width)

    def close(self) -> None:
        """The camera it shows is closed by the env."""
