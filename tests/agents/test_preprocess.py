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


def _reference(images: np.ndarray, spec: PreprocessSpec) -> torch.Tensor:
    """The earlier implementation, step by step on the channels-last view (the pixels must not change)."""
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    s, (h, w) = spec.size, x.shape[-2:]

    def resize(t, hw):
        if tuple(t.shape[-2:]) == hw:
            return t
        if spec.interpolation == "nearest":
            return F.interpolate(t, size=hw, mode="nearest")
        return F.interpolate(t, size=hw, mode=spec.interpolation, align_corners=False, antialias=True)

    if spec.resize_mode == "squash":
        x = resize(x, (s, s))
    elif spec.resize_mode == "shortest":
        nh, nw = max(s, round(h * s / min(h, w))), max(s, round(w * s / min(h, w)))
        top, left = (nh - s) // 2, (nw - s) // 2
        x = resize(x, (nh, nw))[..., top : top + s, left : left + s]
    else:
        nh, nw = min(s, max(1, round(h * s / max(h, w)))), min(s, max(1, round(w * s / max(h, w))))
        x = resize(x, (nh, nw))
        ph, pw = s - nh, s - nw
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    if spec.interpolation == "bicubic":
        x = x.clamp_(0.0, 1.0)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


@pytest.mark.parametrize("mode", ["shortest", "squash", "longest"])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "nearest"])
@pytest.mark.parametrize("hw", [(64, 64), (32, 32), (48, 80), (90, 70)])
def test_pixels_are_bit_identical_to_the_earlier_implementation(mode, interpolation, hw):
    spec = PreprocessSpec(size=64, resize_mode=mode, interpolation=interpolation)
    images = np.random.default_rng(1).integers(0, 256, size=(5, *hw, 3), dtype=np.uint8)
    expected = _reference(images, spec)
    out = preprocess_images(images, spec)
    assert out.is_contiguous() and torch.equal(out, expected)
    assert torch.equal(preprocess_images(list(images), spec), expected)  # a list of frames, as the collator passes
    assert torch.equal(preprocess_images(torch.from_numpy(images), spec), expected)
    read_only = images.copy()
    read_only.flags.writeable = False
    assert torch.equal(preprocess_images(read_only, spec), expected)
    assert np.array_equal(read_only, images)  # the caller's frames are left alone
