"""The behaviour-cloning CNN baseline."""

import numpy as np
import pytest

from cliprt_agents.baselines.bc import BCAgent, BCConfig, train_bc
from cliprt_agents.image_shift import random_shift
from cliprt_agents.synthetic import SyntheticMotionDataset
from cliprt_envs.motions import Vocabulary, default_vocabulary


def test_random_shift_keeps_shape_and_content():
    import torch

    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    y = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert random_shift(x, 0, torch.Generator()) is x


def test_bc_learns_a_task_that_needs_image_and_instruction(tmp_path):
    vocab = default_vocabulary()
    data = SyntheticMotionDataset(600, image_size=32, vocabulary=vocab, seed=0)
    cfg = BCConfig(image_size=32, channels=(16, 32), hidden=64, epochs=12, batch_size=32, lr=3e-3, seed=0)
    metrics = train_bc(data, vocab, cfg, tmp_path, progress=False)
    # chance is 1/2 among the two moves the image allows; ignoring either input caps accuracy there
    assert metrics["best"] > 0.85
    agent = BCAgent(tmp_path)
    test = SyntheticMotionDataset(100, image_size=32, vocabulary=vocab, seed=99)
    items = [test[i] for i in range(len(test))]
    batch = {"image": np.stack([it["image"] for it in items]), "instruction": tuple(it["instruction"] for it in items)}
    acc = float(np.mean(agent.act(batch) == np.array([it["motion_id"] for it in items])))
    assert acc > 0.8
    single = agent.act({"image": items[0]["image"], "instruction": items[0]["instruction"]})
    assert isinstance(single, int)
    assert agent.scores(batch).shape == (100, len(vocab))


def test_bc_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a BC checkpoint"):
        BCAgent(tmp_path)
    vocab = default_vocabulary()
    data = SyntheticMotionDataset(40, image_size=32, vocabulary=vocab, seed=0)
    train_bc(data, vocab, BCConfig(image_size=32, channels=(8,), hidden=16, epochs=1), tmp_path, progress=False)
    other = Vocabulary.build(position_magnitudes=(0.02,))
    with pytest.raises(ValueError, match="cannot take new motions"):
        BCAgent(tmp_path, vocabulary=other)
