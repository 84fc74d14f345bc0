"""Batched image preprocessing in torch, shared by training (in DataLoader workers) and inference.

Why not open_clip's PIL transforms: they work one image at a time; robots
give ``(B, H, W, 3)`` uint8 batches from vector envs, and training and
inference must see exactly the same pixels. This module reproduces open_clip's
``resize_mode`` semantics ("shortest": resize the short side then centre-crop,
"longest": resize the long side then pad, "squash": resize to a square).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PreprocessSpec:
    """Target size and normalisation of the image tower."""

    size: int
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"

    def __post_init__(self) -> None:
        if self.interpolation not in ("bicubic", "bilinear", "nearest"):
            raise ValueError(f"unsupported interpolation {self.interpolation!r}")
        if self.resize_mode not in ("shortest", "longest", "squash"):
            raise ValueError(f"unsupported resize_mode {self.resize_mode!r}")

    @classmethod
    def from_open_clip(cls, cfg: dict[str, Any]) -> PreprocessSpec:
        size = cfg.get("size", 224)
        if isinstance(size, (tuple, list)):
            if size[0] != size[1]:
                raise ValueError(f"only square image towers are supported, got size {size}")
            size = size[0]
        return cls(
            size=int(size),
            mean=tuple(float(m) for m in cfg.get("mean", OPENAI_MEAN)),
            std=tuple(float(s) for s in cfg.get("std", OPENAI_STD)),
            interpolation=str(cfg.get("interpolation", "bicubic")),
            resize_mode=str(cfg.get("resize_mode", "shortest")),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        return cls(
            size=int(data["size"]),
            mean=tuple(float(m) for m in data["mean"]),
            std=tuple(float(s) for s in data["std"]),
            interpolation=str(data["interpolation"]),
            resize_mode=str(data["resize_mode"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "resize_mode": self.resize_mode,
        }


def _resize(x: torch.Tensor, hw: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=hw, mode="nearest")
    return F.interpolate(x, size=hw, mode=mode, align_corners=False, antialias=True)


def _to_tensor(images: Any) -> torch.Tensor:
    arr = np.ascontiguousarray(images)
    if not arr.flags.writeable:  # env frames may be read-only views; torch wants writable memory
        arr = arr.copy()
    return torch.from_numpy(arr)


def _as_float_batch(images: Any) -> torch.Tensor:
    t = images if isinstance(images, torch.Tensor) else _to_tensor(images)
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"images must be (H, W, 3) or (B, H, W, 3), got shape {tuple(t.shape)}")
    if t.dtype != torch.uint8:
        raise ValueError(f"images must be uint8, got {t.dtype}")
    # Channels first while still uint8 (a quarter of the bytes to move), so every float op
    # below runs on a contiguous NCHW tensor: 2-5x faster on a CPU, the same values.
    return t.permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def preprocess_images(images: Any, spec: PreprocessSpec, device: torch.device | str | None = None) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 (numpy or torch) to a normalised ``(B, 3, S, S)`` float tensor.

    With ``device`` the uint8 pixels move first, so resizing runs on the GPU.
    """
    if isinstance(images, (list, tuple)):
        shapes = {np.shape(im) for im in images}
        if len(shapes) > 1:
            return torch.cat([preprocess_images(im, spec, device) for im in images])
        images = np.stack([np.asarray(im) for im in images])
    if device is not None:
        images = (images if isinstance(images, torch.Tensor) else _to_tensor(images)).to(device)
    x = _as_float_batch(images)
    s = spec.size
    h, w = x.shape[-2:]
    if spec.resize_mode == "squash":
        x = _resize(x, (s, s), spec.interpolation)
    elif spec.resize_mode == "shortest":
        scale = s / min(h, w)
        nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
        x = _resize(x, (nh, nw), spec.interpolation)
        top, left = (nh - s) // 2, (nw - s) // 2
        x = x[..., top : top + s, left : left + s]
    else:  # longest: fit inside, pad the rest with zeros (open_clip pads with 0)
        scale = s / max(h, w)
        nh, nw = min(s, max(1, round(h * scale))), min(s, max(1, round(w * scale)))
        x = _resize(x, (nh, nw), spec.interpolation)
        pad_h, pad_w = s - nh, s - nw
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    if spec.interpolation == "bicubic":
        x = x.clamp_(0.0, 1.0)
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.sub(x, mean).div_(std).contiguous()  # (x - mean) / std with one temporary less
