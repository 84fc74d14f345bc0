"""The interface every video-language encoder follows, and a factory by name.

An encoder maps videos ``(B, T, H, W, 3)`` (float32 in its recipe's value
range) and texts to vectors in one space; RoboCLIP's reward is the raw dot
product of the two. ``recipe`` is the frame recipe the encoder expects by
default (callers may pass another).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe

ENCODER_KINDS = ("s3d", "clip-frames", "trained")


@runtime_checkable
class VideoLanguageEncoder(Protocol):
    """Videos and texts -> vectors of one space (numpy in, numpy out)."""

    name: str
    embed_dim: int
    recipe: FrameRecipe

    def embed_videos(self, videos: np.ndarray) -> np.ndarray:
        """``(B, T, H, W, 3)`` float32 -> ``(B, embed_dim)`` float32."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``B`` texts -> ``(B, embed_dim)`` float32."""
        ...


def make_encoder(
    kind: str,
    *,
    weights: str | None = None,
    vocabulary: str | None = None,
    model: str | None = None,
    pretrained: str | None = None,
    device: str = "cpu",
) -> VideoLanguageEncoder:
    """``s3d`` (``weights``: s3d_howto100m.pth, ``vocabulary``: s3d_dict.npy), ``clip-frames``
    (``model``/``pretrained``: an open_clip model and tag or file) or ``trained`` (``weights``: a folder
    written by ``cliprt roboclip train-encoder``)."""
    if kind == "s3d":
        from cliprt_agents.roboclip.encoders.s3d_encoder import S3DEncoder

        return S3DEncoder.from_files(weights, vocabulary, device=device)
    if kind == "clip-frames":
        from cliprt_agents.roboclip.encoders.clip_frames import ClipFramesEncoder

        return ClipFramesEncoder(model or "ViT-B-32", pretrained, device=device)
    if kind == "trained":
        from cliprt_agents.roboclip.encoders.trained import TrainedVideoEncoder

        if not weights:
            raise ValueError("the trained encoder needs --encoder-weights DIR (made by `cliprt roboclip train-encoder`)")
        return TrainedVideoEncoder.load(weights, device=device)
    raise ValueError(f"unknown encoder {kind!r}; choose one of {', '.join(ENCODER_KINDS)}")


def normalize_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)
