"""A small convolutional image tower for CLIP-RT trained from scratch on a CPU.

Vision transformers trained from scratch on a few thousand 64 px frames learn
little (with 16 or 64 patches the tiny ViT kept answering from the
instruction alone). Robot-learning work that trains from scratch uses small
CNNs that keep the spatial layout; this is one: stride-2 conv stages with
GroupNorm, two coordinate channels so positions are explicit, and the final
feature map flattened (not pooled) into the embedding, so "where the gripper
is relative to the named object" survives. It replaces the image tower of
:data:`~cliprt_agents.config.TINY_CONV_MODEL`; the text tower, tokenizer,
logit scale and CLIP-RT itself are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def coordinate_channels(x: torch.Tensor) -> torch.Tensor:
    """``x`` with two more channels holding each pixel's row and column in [-1, 1] (CoordConv)."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
    return torch.cat([x, ys, xs], dim=1)


#: The widest final feature map that is flattened into the embedding (8 x 8 at 64 px).
MAX_FINAL_SIDE = 8


def stage_channels(image_size: int, channels: tuple[int, ...]) -> tuple[int, ...]:
    """``channels``, with more stages of the last width until the final map is at most 8 px wide.

    A larger image then costs more convolution but not a larger flattened
    head (at 96 px: four stages, 6 x 6; at 64 px the three given stages, 8 x 8).
    """
    out = tuple(channels)
    while image_size // 2 ** len(out) > MAX_FINAL_SIDE and image_size % 2 ** (len(out) + 1) == 0:
        out += (out[-1],)
    return out


class ConvImageTower(nn.Module):
    """``(B, 3, S, S)`` normalised pixels -> ``(B, embed_dim)``; drop-in for an open_clip ``visual``."""

    def __init__(
        self,
        embed_dim: int,
        image_size: int = 64,
        channels: tuple[int, ...] = (32, 64, 128),
        hidden: int = 512,
        preprocess_cfg: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        channels = stage_channels(image_size, channels)
        if image_size % (2 ** len(channels)):
            raise ValueError(f"image_size {image_size} must be divisible by {2 ** len(channels)}")
        self.image_size = (image_size, image_size)
        self.preprocess_cfg = dict(preprocess_cfg or {})
        layers: list[nn.Module] = []
        c_in = 3 + 2
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.ReLU(inplace=True)]
            c_in = c
        self.stages = nn.Sequential(*layers)
        side = image_size // 2 ** len(channels)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * side * side, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, embed_dim)
        )
        self.keypoints: SpatialKeypoints | None = None

    def add_keypoints(self) -> None:
        """Also read where each final channel is strongest (:class:`SpatialKeypoints`); starts as a no-op."""
        self.keypoints = SpatialKeypoints(self.widths[-1], self.head[1].out_features)

    @property
    def widths(self) -> tuple[int, ...]:
        """The channels of each convolution stage (what :class:`FiLM` modulates)."""
        return tuple(m.out_channels for m in self.stages if isinstance(m, nn.Conv2d))

    def forward(self, x: torch.Tensor, film: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> torch.Tensor:
        """The embedding; ``film`` (from :class:`FiLM`): per stage ``(scale, shift)``, each ``(B, C)``, after its norm."""
        x = coordinate_channels(x)
        if film is None:
            return self._embed(self.stages(x))
        if len(film) != len(self.widths):
            raise ValueError(f"FiLM gives {len(film)} stages' modulation; the tower has {len(self.widths)} stages")
        for stage, (scale, shift) in enumerate(film):
            conv, norm, act = self.stages[3 * stage : 3 * stage + 3]
            x = norm(conv(x))
            x = act(x * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None])
        return self._embed(x)

    def _embed(self, features: torch.Tensor) -> torch.Tensor:
        """The head on the final feature map: flattened, plus the keypoints' term where the tower has them."""
        hidden = self.head[1](self.head[0](features))
        if self.keypoints is not None:
            hidden = hidden + self.keypoints(features)
        return self.head[3](self.head[2](hidden))

    # open_clip calls these on its towers: lock freezes the whole CNN (it has no layer groups to leave
    # unlocked); gradient checkpointing is not implemented for it, so the switch is ignored
    def lock(self, unlocked_groups: int = 0, freeze_bn_stats: bool = False) -> None:
        for p in self.parameters():
            p.requires_grad = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        pass


class FiLM(nn.Module):
    """A conditioning vector (the instruction's embedding) -> a scale and shift per channel of each conv stage.

    Feature-wise linear modulation (Perez et al., 2018): the instruction reaches
    the convolutions, so a stage can pick out "the red cube" while the image's
    spatial layout is still there, rather than only after the tower has pooled
    every object into one vector. The output layer starts at zero: at first the
    tower computes exactly what it did without FiLM, so a checkpoint trained
    without it is a sound start.
    """

    def __init__(self, cond_dim: int, widths: tuple[int, ...], hidden: int = 256) -> None:
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.net = nn.Sequential(nn.LayerNorm(cond_dim), nn.Linear(cond_dim, hidden), nn.ReLU(inplace=True))
        self.out = nn.Linear(hidden, 2 * sum(self.widths))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, cond: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        params = self.out(self.net(cond.to(self.out.weight.dtype)))
        chunks = torch.split(params, [w for w in self.widths for _ in (0, 1)], dim=-1)
        return [(chunks[2 * i], chunks[2 * i + 1]) for i in range(len(self.widths))]


class SpatialKeypoints(nn.Module):
    """The final feature map -> where each channel is strongest, projected into the tower's hidden layer.

    Spatial softmax (Levine et al., 2016; robomimic's image encoders): each
    channel's map becomes a softmax over its positions, and the channel
    gives the mean column and row under it, so "where the thing this channel
    finds lies" is two numbers for every channel, whatever the thing is. The
    flattened head learns a weight for every position of every channel, so a
    channel that fine-tuning teaches to find a new object might have useful
    weights only where the demonstrations put it; coordinates do not depend
    on that. (Measured on this project's sim, the coordinate channels already
    carry positions over and keypoints added nothing: README, levers table.)
    The projection starts at zero, so a tower given keypoints computes exactly
    what it did before.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self.proj = nn.Linear(2 * channels, hidden)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n, c, h, w = features.shape
        weights = torch.softmax(features.flatten(2) / self.log_temperature.exp(), dim=-1).view(n, c, h, w)
        rows = torch.linspace(-1.0, 1.0, h, device=features.device, dtype=features.dtype)
        cols = torch.linspace(-1.0, 1.0, w, device=features.device, dtype=features.dtype)
        mean_row = (weights.sum(dim=3) * rows).sum(dim=-1)
        mean_col = (weights.sum(dim=2) * cols).sum(dim=-1)
        return self.proj(torch.cat([mean_col, mean_row], dim=1))
