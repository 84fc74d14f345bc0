"""What the agent should do, as a vector: a text, one demonstration video, or an edited demonstration.

The edit is the paper's multimodal specification:
``z = z_video(demo) - z_text(minus) + z_text(plus)`` (e.g. a button-press
video minus "red button" plus "green drawer" for drawer-close).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe
from cliprt_agents.roboclip.encoders.base import VideoLanguageEncoder
from cliprt_agents.roboclip.video import clip_from_file_frames, read_video, to_float


@dataclass(frozen=True)
class Target:
    """Exactly one of ``text`` or ``video`` (a file path, or frames); ``minus``/``plus`` edit a video target."""

    text: str | None = None
    video: str | Path | np.ndarray | None = None
    minus: str | None = None
    plus: str | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.video is None):
            raise ValueError("a RoboCLIP target is a text or a demonstration video (give exactly one)")
        if (self.minus is None) != (self.plus is None):
            raise ValueError("an edit needs both texts: the one to subtract (minus) and the one to add (plus)")
        if self.minus is not None and self.video is None:
            raise ValueError("an edit (minus/plus texts) changes a demonstration video's embedding: give a video too")
        if self.text is not None and not self.text.strip():
            raise ValueError("the target text is empty")

    def describe(self) -> str:
        if self.text is not None:
            return f"text {self.text!r}"
        what = f"video {self.video}" if not isinstance(self.video, np.ndarray) else f"video of {len(self.video)} frames"
        return what + (f" - {self.minus!r} + {self.plus!r}" if self.minus is not None else "")


def demo_clip(video: str | Path | np.ndarray, recipe: FrameRecipe) -> np.ndarray:
    """A demonstration (file, folder or ``(T, H, W, 3)`` frames) as the recipe's float clip ``(T, h, w, 3)``."""
    frames = read_video(video) if not isinstance(video, np.ndarray) else np.asarray(video)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4):
        raise ValueError(f"demonstration frames must be (T, H, W, 3), got shape {frames.shape}")
    return to_float(clip_from_file_frames(frames, recipe), recipe)


def target_embedding(encoder: VideoLanguageEncoder, target: Target, recipe: FrameRecipe | None = None) -> np.ndarray:
    """The task vector ``(embed_dim,)`` float32 that episode videos are scored against."""
    recipe = recipe or encoder.recipe
    if target.text is not None:
        return encoder.embed_texts([target.text])[0].astype(np.float32)
    z = encoder.embed_videos(demo_clip(target.video, recipe)[None])[0]
    if target.minus is not None:
        minus, plus = encoder.embed_texts([target.minus, target.plus])
        z = z - minus + plus
    return np.asarray(z, dtype=np.float32)
