"""Inputs for baselines that cannot read text or need small images.

Instructions become fixed-length vectors with a signed hashing bag of words and word bigrams (the "hashing trick"): no
vocabulary to fit, no pretrained weights, identical on every machine, and
different object names land in different dimensions, so a policy can still
tell "the red cube" from "the blue cube".
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np

DEFAULT_DIM = 64
_WORD = re.compile(r"[a-z0-9]+")


def instruction_vector(text: str, dim: int = DEFAULT_DIM) -> np.ndarray:
    """L2-normalised float32 ``(dim,)`` vector of ``text``."""
    if dim < 4:
        raise ValueError(f"dim must be >= 4, got {dim}")
    words = _WORD.findall(text.lower())
    grams = words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]
    vec = np.zeros(dim, dtype=np.float32)
    for gram in grams:
        h = zlib.crc32(gram.encode())
        vec[h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


def instruction_matrix(texts, dim: int = DEFAULT_DIM) -> np.ndarray:
    """``(B, dim)`` for a batch of instructions."""
    return np.stack([instruction_vector(t, dim) for t in texts])


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of ``(..., H, W, 3)`` uint8 images (cheap, dependency-free)."""
    h, w = images.shape[-3:-1]
    if (h, w) == (size, size):
        return images
    rows = (np.arange(size) * h / size).astype(int)
    cols = (np.arange(size) * w / size).astype(int)
    return images[..., rows[:, None], cols[None, :], :]
