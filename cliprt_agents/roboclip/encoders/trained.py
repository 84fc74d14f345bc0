"""A small video-language encoder trained in this project (``cliprt roboclip train-encoder``).

Video: a 3-layer CNN on each frame, a temporal convolution, then the mean,
first and last frame features together -> ``embed_dim``. Text: a word
vocabulary built from the training instructions, mean of word vectors -> MLP
-> ``embed_dim``. Both unit-normalised, so similarities are cosines. Small
enough to train on a CPU in minutes and to score an episode in milliseconds,
so the whole RoboCLIP loop runs offline on the twin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cliprt_agents.roboclip.config import TrainedEncoderConfig

WEIGHTS_FILE = "encoder.pt"
CONFIG_FILE = "encoder.json"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class VideoTower(nn.Module):
    def __init__(self, width: int, embed_dim: int) -> None:
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(3, width // 2, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(16 * width, 2 * width),
        )
        self.temporal = nn.Conv1d(2 * width, 2 * width, 3, padding=1)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(6 * width, 2 * width), nn.ReLU(), nn.Linear(2 * width, embed_dim))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, T, H, W, 3)`` in [0, 1] -> ``(B, embed_dim)``."""
        b, t = video.shape[:2]
        f = self.frames(video.reshape(b * t, *video.shape[2:]).permute(0, 3, 1, 2)).reshape(b, t, -1)
        motion = F.relu(self.temporal(f.transpose(1, 2))).mean(dim=2)
        return self.head(torch.cat([motion, f[:, 0], f[:, -1]], dim=1))


class TextTower(nn.Module):
    def __init__(self, vocabulary: list[str], embed_dim: int, width: int) -> None:
        super().__init__()
        self.index = {w: i + 1 for i, w in enumerate(vocabulary)}  # 0: unknown words
        self.embedding = nn.EmbeddingBag(len(vocabulary) + 1, 2 * width, mode="mean")
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(2 * width, embed_dim))

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        ids, offsets = [], []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(self.index.get(w, 0) for w in words(text) or ["<none>"])
        device = self.embedding.weight.device
        bag = self.embedding(torch.tensor(ids, device=device), torch.tensor(offsets, device=device))
        return self.head(bag)


class VideoTextModel(nn.Module):
    def __init__(self, config: TrainedEncoderConfig, vocabulary: list[str]) -> None:
        super().__init__()
        self.video = VideoTower(config.width, config.embed_dim)
        self.text = TextTower(vocabulary, config.embed_dim, config.width)
        self.logit_scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.video(video), dim=-1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return F.normalize(self.text(texts), dim=-1)


class TrainedVideoEncoder:
    """The in-project encoder behind :class:`~.base.VideoLanguageEncoder`."""

    name = "trained"

    def __init__(self, model: VideoTextModel, config: TrainedEncoderConfig, vocabulary: list[str], device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.config, self.vocabulary, self.device = config, vocabulary, device
        self.embed_dim = config.embed_dim
        self.recipe = config.recipe()

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / WEIGHTS_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps({"config": asdict(self.config), "vocabulary": self.vocabulary}, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> TrainedVideoEncoder:
        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
            raise FileNotFoundError(
                f"{folder} is not a trained RoboCLIP encoder (needs {WEIGHTS_FILE} and {CONFIG_FILE}); "
                "make one with `cliprt roboclip train-encoder --out DIR`"
            )
        meta = json.loads((folder / CONFIG_FILE).read_text())
        config = TrainedEncoderConfig(**meta["config"])
        model = VideoTextModel(config, meta["vocabulary"])
        model.load_state_dict(torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        return cls(model, config, meta["vocabulary"], device)

    def embed_videos(self, videos: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(videos, dtype=np.float32))
        if float(x.max()) > 1.5:  # a "byte" recipe
            x = x / 255.0
        if x.shape[2] != self.config.image_size or x.shape[3] != self.config.image_size:
            raise ValueError(
                f"the trained encoder takes {self.config.image_size} px frames, got {tuple(x.shape[2:4])}: "
                f"use its recipe (size={self.config.image_size})"
            )
        with torch.inference_mode():
            return self.model.encode_video(x.to(self.device)).cpu().numpy()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            return self.model.encode_text(list(texts)).cpu().numpy()
