"""Batched torch preprocessing matches open_clip's PIL pipeline closely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cliprt_agents.preprocess import PreprocessSpec, preprocess_images


@pytest.mark.parametrize("mode", ["shortest", "squash", "longest"])
def test_shapes_for_every_resize_mode(mode):
    spec = PreprocessSpec(size=32, resize_mode=mode)
    out = preprocess_images(np.zeros((3, 48, 64, 3), np.uint8), spec)
    assert out.shape == (3, 3, 32, 32)
    single = preprocess_images(np.zeros((48, 64, 3), np.uint8), spec)
    assert single.shape == (1, 3, 32, 32)


def test_close_to_open_clip_transform():
    import open_clip
    from PIL import Image

    rng = np.random.default_rng(0)
    # A smooth image, so resampling differences stay small.
    base = rng.integers(0, 255, size=(8, 8, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(base).resize((96, 96), Image.BILINEAR))
    transform = open_clip.image_transform(64, is_train=False)
    ref = transform(Image.fromarray(image))
    ours = preprocess_images(image, PreprocessSpec(size=64))[0]
    assert torch.mean(torch.abs(ref - ours)).item() < 0.05


def test_rejects_wrong_inputs():
    spec = PreprocessSpec(size=32)
    with pytest.raises(ValueError, match="uint8"):
        preprocess_images(np.zeros((8, 8, 3), np.float32), spec)
    with pytest.raises(ValueError, match="shape"):
        preprocess_images(np.zeros((8, 8), np.uint8), spec)
