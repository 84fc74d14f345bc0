"""The CNN image tower's spatial-softmax keypoints (``ModelConfig.keypoints``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cliprt_agents.config import TINY_CONV_MODEL, TINY_MODEL, ModelConfig, TrainConfig
from cliprt_agents.conv_tower import ConvImageTower, SpatialKeypoints

from .test_film import named_object_task


def test_keypoints_start_as_the_tower_without_them_and_then_add_their_term():
    torch.manual_seed(0)
    tower = ConvImageTower(16, image_size=32)
    x = torch.randn(3, 3, 32, 32)
    before = tower(x)
    tower.add_keypoints()
    torch.testing.assert_close(tower(x), before)  # zero projection: the plain tower at first
    torch.nn.init.normal_(tower.keypoints.proj.weight, std=0.1)
    assert not torch.allclose(tower(x), before)


@pytest.mark.parametrize(("row", "col"), [(0, 0), (2, 5), (7, 7), (6, 1)])
def test_each_channel_gives_where_it_is_strongest(row, col):
    keypoints = SpatialKeypoints(channels=2, hidden=4)
    torch.nn.init.eye_(keypoints.proj.weight)  # the first four hidden units read the coordinates back
    features = torch.zeros(1, 2, 8, 8)
    features[0, 0, row, col] = 30.0  # channel 0: one sharp peak
    features[0, 1] = 1.0  # channel 1: flat, so its mean is the centre
    col_0, col_1, row_0, row_1 = keypoints(features)[0].tolist()
    grid = np.linspace(-1.0, 1.0, 8)
    assert col_0 == pytest.approx(grid[col], abs=1e-3) and row_0 == pytest.approx(grid[row], abs=1e-3)
    assert col_1 == pytest.approx(0.0, abs=1e-5) and row_1 == pytest.approx(0.0, abs=1e-5)


def test_keypoints_need_the_cnn_tower(vocabulary):
    from cliprt_agents.model import build_model

    with pytest.raises(ValueError, match="CNN image tower"):
        build_model(ModelConfig(backbone=TINY_MODEL, pretrained=None, keypoints=True), vocabulary)


def test_keypoints_round_trip_and_start_from_a_checkpoint_without_them(tmp_path, vocabulary):
    """From a checkpoint without keypoints (--init-from) a model with them first acts exactly like it; a checkpoint
    with them refuses to start a model without them, and a saved model loads with its keypoints trained."""
    from cliprt_agents.data import InMemoryMotionDataset
    from cliprt_agents.errors import CheckpointError
    from cliprt_agents.policy import load_policy
    from cliprt_agents.train import train

    data = InMemoryMotionDataset(named_object_task(16, 0, vocabulary))
    held_out = named_object_task(4, 1, vocabulary)
    config = TrainConfig(max_steps=20, batch_size=16, lr=1e-3, warmup_steps=2, num_workers=0, val_every=20, progress=False)
    plain_cfg = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product", image_size=32, film=True)
    keypoint_cfg = ModelConfig(**{**plain_cfg.to_dict(), "keypoints": True})
    torch.manual_seed(0)
    plain = train(plain_cfg, config, data, tmp_path / "plain")
    once = TrainConfig(**{**config.to_dict(), "max_steps": 1, "lr": 1e-12})
    start = train(keypoint_cfg, once, data, tmp_path / "start", init_from=plain.model_dir)
    obs = {"image": np.stack([it["image"] for it in held_out]), "instruction": [it["instruction"] for it in held_out]}
    np.testing.assert_allclose(
        load_policy(start.model_dir, device="cpu").logits(obs), load_policy(plain.model_dir, device="cpu").logits(obs), atol=1e-3
    )
    taught = train(keypoint_cfg, config, data, tmp_path / "taught", init_from=plain.model_dir)
    policy = load_policy(taught.model_dir, device="cpu")
    assert policy.model.config.keypoints
    assert policy.model.clip.visual.keypoints.proj.weight.abs().sum() > 0  # trained, and saved with the model
    with pytest.raises(CheckpointError, match="--keypoints"):
        train(plain_cfg, once, data, tmp_path / "back", init_from=taught.model_dir)
