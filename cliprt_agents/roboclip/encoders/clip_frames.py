"""Any open_clip model as a video-language encoder: the mean of its (normalised) frame embeddings.

The paper's ablation scored only the last frame with CLIP and found it much
worse than S3D; averaging every frame is the natural video extension. Frames
are resized to the model's input size and normalised with its mean and std.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe
from cliprt_agents.roboclip.encoders.base import normalize_rows


class ClipFramesEncoder:
    """``open_clip`` image tower on each frame (mean of unit vectors), text tower on texts (unit vectors)."""

    name = "clip-frames"

    def __init__(self, model_name: str, pretrained: str | None, *, device: str = "cpu", image_size: int | None = None) -> None:
        import torch

        from cliprt_agents.backbone import create_clip, get_tokenizer

        self.model, preprocess = create_clip(model_name, pretrained, image_size=image_size)
        self.model = self.model.to(device).eval()
        self.tokenizer = get_tokenizer(model_name)
        self.device = device
        size = self.model.visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.mean = torch.tensor(preprocess.get("mean", (0.48145466, 0.4578275, 0.40821073))).view(1, 3, 1, 1)
        self.std = torch.tensor(preprocess.get("std", (0.26862954, 0.26130258, 0.27577711))).view(1, 3, 1, 1)
        with torch.inference_mode():
            self.embed_dim = int(self.model.encode_text(self.tokenizer(["a"]).to(device)).shape[-1])
        self.recipe = FrameRecipe(crop=None, size=self.image_size, stride=4, num_frames=8)

    def embed_videos(self, videos: np.ndarray) -> np.ndarray:
        import torch
        from torch.nn import functional as F

        videos = np.asarray(videos, dtype=np.float32)
        b, t = videos.shape[:2]
        x = torch.as_tensor(videos).reshape(b * t, *videos.shape[2:]).permute(0, 3, 1, 2)
        if x.max() > 1.5:  # a "byte" recipe: CLIP's normalisation expects [0, 1]
            x = x / 255.0
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        with torch.inference_mode():
            frames = self.model.encode_image(x.to(self.device)).float().cpu().numpy()
        return normalize_rows(frames).reshape(b, t, -1).mean(axis=1)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model.encode_text(self.tokenizer(list(texts)).to(self.device)).float().cpu().numpy()
        return normalize_rows(out)
