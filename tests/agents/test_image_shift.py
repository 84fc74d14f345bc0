"""Random-shift augmentation (cliprt_agents.image_shift) and CLIP-RT training with it and with instruction noise."""

from __future__ import annotations

import pytest
import torch

from cliprt_agents.image_shift import random_shift


def test_a_shift_moves_content_by_at_most_pad_pixels_and_keeps_the_shape():
    x = torch.zeros(16, 3, 12, 12)
    x[:, :, 6, 6] = 1.0  # one bright pixel in the middle
    y = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    rows, cols = (y[:, 0] == 1.0).nonzero(as_tuple=True)[1:]
    assert len(rows) == 16 and ((rows - 6).abs() <= 2).all() and ((cols - 6).abs() <= 2).all()
    assert len({(int(r), int(c)) for r, c in zip(rows, cols)}) > 1  # images move independently
    assert random_shift(x, 0) is x


@pytest.mark.parametrize(("augmentation", "value"), [("image_shift", 2), ("instruction_noise", 0.6)])
def test_training_with_an_augmentation_runs_and_is_validated(tmp_path, toy_data, augmentation, value):
    from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig
    from cliprt_agents.train import train

    with pytest.raises(ValueError, match=augmentation):
        TrainConfig(**{augmentation: -1})
    config = TrainConfig(
        max_steps=3, batch_size=8, lr=1e-3, warmup_steps=1, num_workers=0, progress=False, **{augmentation: value}
    )
    result = train(ModelConfig(backbone=TINY_MODEL, pretrained=None), config, toy_data, tmp_path)
    assert result.model_dir.is_dir()


def test_larger_images_get_more_conv_stages_not_a_larger_head():
    from cliprt_agents.conv_tower import ConvImageTower, stage_channels

    assert stage_channels(64, (32, 64, 128)) == (32, 64, 128)  # the shipped 64 px checkpoint's tower
    assert stage_channels(96, (32, 64, 128)) == (32, 64, 128, 128)
    small, large = ConvImageTower(128, 64), ConvImageTower(128, 96)
    assert large(torch.zeros(2, 3, 96, 96)).shape == (2, 128)
    assert sum(p.numel() for p in large.parameters()) < sum(p.numel() for p in small.parameters())
