"""Random-shift image augmentation (DrQ): pad by replication, crop back at a random offset per image.

Policies trained from scratch on a few thousand small frames memorise exact
pixel positions; shifting each training image by a few pixels is the usual
remedy in image-based robot learning (Kostrikov et al., DrQ, 2020). Used by
CLIP-RT training (``TrainConfig.image_shift``) and the BC baseline
(``BCConfig.shift``).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(N, C, H, W)`` images, each shifted by up to ``pad`` pixels in both directions (float out)."""
    if pad <= 0:
        return images
    n, c, h, w = images.shape
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(images.device)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channels = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channels, rows, cols]
