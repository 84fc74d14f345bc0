"""S3D-G, the video tower of MIL-NCE (HowTo100M), written so the published ``s3d_howto100m.pth`` loads key for key.

The layout follows the published state dict (537 entries, 31.2 M parameters
with the text module of :mod:`.s3d_text`): ``conv1`` works on the input after a
2x2x2 space-to-depth rearrangement (24 channels), then ``conv_2b``,
``conv_2c`` with a self-gating unit ``gating``, max pools with TensorFlow's
"SAME" padding, the inception blocks ``mixed_3b`` .. ``mixed_5c`` and the
projection ``fc`` (1024 -> 512). Input: ``(B, 3, T, H, W)`` in [0, 1] with T,
H and W even. Output: ``video_embedding`` (B, 512) and ``mixed_5c`` (B, 1024).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cliprt_agents.roboclip.encoders.s3d_text import SentenceEmbedding

EMBED_DIM = 512
MIXED_5C_DIM = 1024

#: (name, output widths: branch 0, branch 1 reduce, branch 1, branch 2 reduce, branch 2, pool branch)
INCEPTION_BLOCKS: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("mixed_5c", (384, 192, 384, 48, 128, 128)),
)
#: Max pools placed before these blocks: (kernel, stride), TF "SAME" padding.
POOL_BEFORE = {"mixed_4b": ((3, 3, 3), (2, 2, 2)), "mixed_5b": ((2, 2, 2), (2, 2, 2))}


class ConvUnit(nn.Module):
    """Conv3d + BatchNorm + ReLU; ``separable`` splits a k x k x k kernel into 1 x k x k then k x 1 x 1."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, *, separable: bool = False, shape: tuple[int, int, int] | None = None
    ) -> None:
        super().__init__()
        self.separable = separable
        pad = kernel // 2
        if shape is not None:  # a non-cubic kernel (the first layer), padded as the weights were trained
            self.conv1 = nn.Conv3d(c_in, c_out, shape, padding=tuple(k // 2 for k in shape), bias=False)
            self.bn1 = nn.BatchNorm3d(c_out)
        elif separable:
            self.conv1 = nn.Conv3d(c_in, c_out, (1, kernel, kernel), padding=(0, pad, pad), bias=False)
            self.bn1 = nn.BatchNorm3d(c_out)
            self.conv2 = nn.Conv3d(c_out, c_out, (kernel, 1, 1), padding=(pad, 0, 0), bias=False)
            self.bn2 = nn.BatchNorm3d(c_out)
        else:
            self.conv1 = nn.Conv3d(c_in, c_out, kernel, padding=pad, bias=False)
            self.bn1 = nn.BatchNorm3d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        if self.separable:
            x = F.relu(self.bn2(self.conv2(x)))
        return x


class SelfGating(nn.Module):
    """Scales each channel by a sigmoid of a linear map of the channels' spatio-temporal means."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * weights[:, :, None, None, None]


def same_max_pool(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """Max pool with TensorFlow's "SAME" padding (zeros, extra row at the end), as the weights were trained."""
    pads: list[int] = []
    for k, s in reversed(list(zip(kernel, stride))):  # F.pad lists the last dimension first
        total = max(k - s, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool3d(F.pad(x, pads), kernel, stride, ceil_mode=True)


class InceptionBlock(nn.Module):
    """Four branches (1x1; 1x1 -> 3x3 separable; 1x1 -> 3x3 separable; max pool -> 1x1), each self-gated."""

    def __init__(self, c_in: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        w0, w1a, w1, w2a, w2, w3 = widths
        self.conv_b0 = ConvUnit(c_in, w0, 1)
        self.conv_b1_a = ConvUnit(c_in, w1a, 1)
        self.conv_b1_b = ConvUnit(w1a, w1, 3, separable=True)
        self.conv_b2_a = ConvUnit(c_in, w2a, 1)
        self.conv_b2_b = ConvUnit(w2a, w2, 3, separable=True)
        self.conv_b3_b = ConvUnit(c_in, w3, 1)
        self.gating_b0, self.gating_b1 = SelfGating(w0), SelfGating(w1)
        self.gating_b2, self.gating_b3 = SelfGating(w2), SelfGating(w3)
        self.output_dim = w0 + w1 + w2 + w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.gating_b0(self.conv_b0(x))
        b1 = self.gating_b1(self.conv_b1_b(self.conv_b1_a(x)))
        b2 = self.gating_b2(self.conv_b2_b(self.conv_b2_a(x)))
        b3 = self.gating_b3(self.conv_b3_b(F.max_pool3d(x, 3, stride=1, padding=1)))
        return torch.cat((b0, b1, b2, b3), dim=1)


def check_video_shape(shape: tuple[int, ...]) -> None:
    """S3D's space-to-depth needs ``(B, 3, T, H, W)`` with T, H, W even (and at least 2)."""
    if len(shape) != 5 or shape[1] != 3:
        raise ValueError(f"S3D takes videos shaped (B, 3, T, H, W); got {tuple(shape)}")
    odd = {name: n for name, n in zip(("T", "H", "W"), shape[2:]) if n % 2 or n < 2}
    if odd:
        raise ValueError(
            f"S3D needs an even number of frames (T), height (H) and width (W), each >= 2; got {odd} in shape "
            f"{tuple(shape)}: change the frame recipe (num_frames, size) to even values, e.g. 32 frames of 224 x 224"
        )


def space_to_depth(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, T, H, W)`` -> ``(B, 8C, T/2, H/2, W/2)``, channels ordered (dt, dh, dw, c) as in training."""
    b, c, t, h, w = x.shape
    x = x.view(b, c, t // 2, 2, h // 2, 2, w // 2, 2).permute(0, 3, 5, 7, 1, 2, 4, 6)
    return x.reshape(b, 8 * c, t // 2, h // 2, w // 2)


class S3D(nn.Module):
    """S3D-G video tower plus the MIL-NCE text module (``text_module``), one state dict for both."""

    def __init__(self, vocabulary: list[str] | None = None, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.conv1 = ConvUnit(24, 64, 0, shape=(2, 4, 4))
        self.conv_2b = ConvUnit(64, 64, 1)
        self.conv_2c = ConvUnit(64, 192, 3, separable=True)
        self.gating = SelfGating(192)
        width = 192
        for name, widths in INCEPTION_BLOCKS:
            block = InceptionBlock(width, widths)
            self.add_module(name, block)
            width = block.output_dim
        self.fc = nn.Linear(width, embed_dim)
        self.text_module = SentenceEmbedding(vocabulary, embed_dim)

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        check_video_shape(tuple(video.shape))
        x = self.conv1(space_to_depth(video))[:, :, 1:, 1:, 1:]  # the crop gives TF's "SAME" padding
        x = same_max_pool(x, (1, 3, 3), (1, 2, 2))
        x = self.gating(self.conv_2c(self.conv_2b(x)))
        x = same_max_pool(x, (1, 3, 3), (1, 2, 2))
        for name, _ in INCEPTION_BLOCKS:
            if name in POOL_BEFORE:
                x = same_max_pool(x, *POOL_BEFORE[name])
            x = getattr(self, name)(x)
        pooled = x.mean(dim=(2, 3, 4))
        return {"video_embedding": self.fc(pooled), "mixed_5c": pooled}

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        return self.text_module(texts)


def state_dict_layout(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Every state-dict key with its shape (what a weights file must provide)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_state_dict_strict(model: nn.Module, state: dict[str, Any]) -> None:
    """Load with every key and shape checked; the error lists what is missing, extra or mis-shaped."""
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    layout = state_dict_layout(model)
    missing = sorted(set(layout) - set(state))
    extra = sorted(set(state) - set(layout))
    shapes = sorted(k for k in set(layout) & set(state) if tuple(state[k].shape) != layout[k])
    if missing or extra or shapes:
        raise ValueError(
            f"the S3D weights do not fit: {len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected "
            f"(e.g. {extra[:3]}), {len(shapes)} with other shapes (e.g. {shapes[:3]}); use the MIL-NCE file s3d_howto100m.pth"
        )
    model.load_state_dict(state, strict=True)
