"""A LIBERO camera rendered on demand, upright by default."""

from __future__ import annotations

import numpy as np

from cliprt_envs.protocols import ClosesOnExit

#: Our camera names -> robosuite's.
LIBERO_CAMERAS = {"agentview": "agentview", "wrist": "robot0_eye_in_hand", "frontview": "frontview", "sideview": "sideview"}
#: How a frame is turned: "upright" (MuJoCo's OpenGL rows flipped, what people see),
#: "openvla" (also mirrored left-right: the 180-degree turn OpenVLA's and CLIP-RT's LIBERO
#: models were trained on), "raw" (LIBERO's own observation: upside down).
ORIENTATIONS = ("upright", "openvla", "raw")


class LiberoCamera(ClosesOnExit):
    """Renders one of LIBERO's cameras from the backend's current state."""

    def __init__(self, backend, name: str, height: int, width: int, orientation: str = "upright") -> None:
        if name not in LIBERO_CAMERAS:
            raise ValueError(f"unknown LIBERO camera {name!r}; choose from {', '.join(LIBERO_CAMERAS)}")
        if orientation not in ORIENTATIONS:
            raise ValueError(f"image orientation must be one of {ORIENTATIONS}, got {orientation!r}")
        self.backend = backend
        self.name = name
        self.height, self.width = int(height), int(width)
        self.orientation = orientation

    def read(self) -> np.ndarray:
        frame = self.backend.sim.render(camera_name=LIBERO_CAMERAS[self.name], width=self.width, height=self.height)
        if self.orientation == "upright":
            frame = frame[::-1]
        elif self.orientation == "openvla":
            frame = frame[::-1, ::-1]
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        """The render context belongs to the backend's env; nothing to release here."""
