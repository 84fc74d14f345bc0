"""Frames in, videos out: reading demonstration files and turning renders into the encoder's clip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe

VIDEO_SUFFIXES = (".mp4", ".gif", ".avi", ".mov", ".webm", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def read_video(path: str | Path) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 from an mp4/gif (any format imageio reads) or a folder of image files (sorted by name)."""
    import imageio.v3 as iio

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{path} holds no frames ({', '.join(IMAGE_SUFFIXES)} files)")
        frames = [as_rgb(iio.imread(f)) for f in files]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ValueError(f"the frames in {path} differ in size ({sorted(shapes)}); give frames of one size")
        return np.stack(frames)
    if not path.is_file():
        raise FileNotFoundError(f"demonstration video {str(path)!r} does not exist (give an mp4, a gif or a folder of frames)")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"{path} is not a video this reader knows ({', '.join(VIDEO_SUFFIXES)}, or a folder of frames)")
    frames = iio.imread(path, index=None)
    frames = np.asarray(frames)
    if frames.ndim == 3:  # a single image
        frames = frames[None]
    return np.stack([as_rgb(f) for f in frames])


def as_rgb(frame: np.ndarray) -> np.ndarray:
    """Grey, RGBA or RGB -> RGB uint8."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.shape[-1] == 4:
        frame = frame[..., :3]
    return frame.astype(np.uint8, copy=False)


def prepare_frame(frame: np.ndarray, recipe: FrameRecipe) -> np.ndarray:
    """Centre crop then resize one ``(H, W, 3)`` frame; stays uint8."""
    frame = as_rgb(frame)
    h, w = frame.shape[:2]
    side = min(h, w) if recipe.crop is None else min(recipe.crop, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    frame = frame[top : top + side, left : left + side]
    if recipe.size is not None and recipe.size != side:
        from PIL import Image

        frame = np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize((recipe.size, recipe.size), Image.BILINEAR))
    return np.ascontiguousarray(frame)


def fit_length(frames: np.ndarray, num_frames: int | None) -> np.ndarray:
    """Evenly spaced frames when too many, the last one repeated when too few."""
    if num_frames is None or len(frames) == num_frames:
        return frames
    if len(frames) == 0:
        raise ValueError("an empty video cannot be embedded")
    if len(frames) > num_frames:
        index = np.linspace(0, len(frames) - 1, num_frames).round().astype(int)
        return frames[index]
    pad = np.repeat(frames[-1:], num_frames - len(frames), axis=0)
    return np.concatenate([frames, pad])


def clip_from_file_frames(frames: np.ndarray, recipe: FrameRecipe) -> np.ndarray:
    """A demonstration file's frames -> the recipe's clip (the whole video sampled evenly: files have their own rate)."""
    prepared = np.stack([prepare_frame(f, recipe) for f in frames])
    return fit_length(prepared, recipe.num_frames or len(prepared))


def to_float(videos: np.ndarray, recipe: FrameRecipe) -> np.ndarray:
    """uint8 ``(..., H, W, 3)`` -> float32 in the recipe's value range."""
    videos = np.asarray(videos, dtype=np.float32)
    return videos / 255.0 if recipe.value_range == "unit" else videos


class EpisodeFrames:
    """Collects every ``stride``-th frame of an episode, and always its last one.

    Frames are rendered only when kept (``render`` is called lazily) and
    prepared at once, so memory stays small.
    """

    def __init__(self, recipe: FrameRecipe) -> None:
        self.recipe = recipe
        self.frames: list[np.ndarray] = []
        self.count = 0
        self.last_kept = -1

    def reset(self, render: Callable[[], np.ndarray | None]) -> None:
        self.frames, self.count, self.last_kept = [], 0, -1
        self.add(render)

    def add(self, render: Callable[[], np.ndarray | None]) -> None:
        if self.count % self.recipe.stride == 0:
            self._keep(render)
        self.count += 1

    def finish(self, render: Callable[[], np.ndarray | None]) -> np.ndarray:
        """The episode's clip ``(T, H, W, 3)`` uint8, with the final frame, fitted to ``num_frames``."""
        if self.last_kept != self.count - 1:
            self._keep(render)
        return fit_length(np.stack(self.frames), self.recipe.num_frames)

    def _keep(self, render: Callable[[], np.ndarray | None]) -> None:
        frame = render()
        if frame is None:
            raise ValueError(
                "the env rendered nothing: make it with render_mode='rgb_array' (RoboCLIP scores the rendered video)"
            )
        self.frames.append(prepare_frame(frame, self.recipe))
        self.last_kept = self.count
