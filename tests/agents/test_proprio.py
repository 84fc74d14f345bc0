"""CLIP-RT with proprioception (``ModelConfig.proprio``): it learns what only the arm's state tells."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig

LOWER, RAISE = "lower the arm by 5 centimeters", "raise the arm up by 5 centimeters"


def height_task(n: int, seed: int, vocabulary) -> list[dict]:
    """One grey image and one instruction for every sample; the motion depends only on the tool height.

    Below 0.25 m the right motion is to raise the arm, above it to lower it,
    so a model that sees only the image and instruction is at chance.
    """
    rng = np.random.default_rng(seed)
    image = np.full((32, 32, 3), 128, np.uint8)
    items = []
    for i in range(n):
        z = float(rng.uniform(0.1, 0.4))
        text = RAISE if z < 0.25 else LOWER
        proprio = np.array([0.45, 0.0, z, 0.0, -0.707, 0.707, 0.0, 1.0], np.float32)
        items.append(
            {
                "image": image,
                "instruction": "bring the tool to the marked height",
                "supervision": text,
                "motion_id": vocabulary.id_of(text),
                "action": vocabulary.delta(vocabulary.id_of(text)).astype(np.float32),
                "episode_index": i // 4,
                "proprio": proprio,
            }
        )
    return items


def accuracy(policy, items) -> float:
    obs = {
        "image": np.stack([it["image"] for it in items]),
        "instruction": [it["instruction"] for it in items],
        "proprio": np.stack([it["proprio"] for it in items]),
    }
    chosen = np.asarray(policy.act(obs))
    return float(np.mean(chosen == np.array([it["motion_id"] for it in items])))


def test_only_the_proprio_model_learns_a_motion_the_image_cannot_tell(tmp_path, vocabulary):
    from cliprt_agents.data import InMemoryMotionDataset
    from cliprt_agents.policy import load_policy
    from cliprt_agents.train import train

    data = InMemoryMotionDataset(height_task(256, 0, vocabulary))
    held_out = height_task(64, 1, vocabulary)
    config = TrainConfig(
        max_steps=80, batch_size=32, lr=2e-3, warmup_steps=5, num_workers=0, val_every=80, progress=False, loss="vocabulary"
    )
    torch.manual_seed(0)
    plain = train(ModelConfig(backbone=TINY_MODEL, pretrained=None), config, data, tmp_path / "plain")
    plain_policy = load_policy(plain.model_dir, device="cpu")
    # a checkpoint without the input starts a proprio model (--init-from), which first acts exactly like it
    proprio_cfg = ModelConfig(backbone=TINY_MODEL, pretrained=None, proprio=True)
    zero = train(
        proprio_cfg,
        TrainConfig(**{**config.to_dict(), "max_steps": 1, "lr": 1e-12}),
        data,
        tmp_path / "z",
        init_from=plain.model_dir,
    )
    obs = {
        "image": np.stack([it["image"] for it in held_out[:4]]),
        "instruction": [held_out[0]["instruction"]] * 4,
        "proprio": np.stack([it["proprio"] for it in held_out[:4]]),
    }
    np.testing.assert_allclose(load_policy(zero.model_dir, device="cpu").logits(obs), plain_policy.logits(obs), atol=1e-3)

    # 200 steps: on one CPU 80 were enough, on another 80 left it at chance and 160 reached 1.00 (training is not
    # bit for bit the same on every CPU), so the budget leaves room
    longer = TrainConfig(**{**config.to_dict(), "max_steps": 200, "val_every": 200})
    taught = train(proprio_cfg, longer, data, tmp_path / "proprio", init_from=plain.model_dir)
    with_proprio = accuracy(load_policy(taught.model_dir, device="cpu"), held_out)
    without = accuracy(plain_policy, held_out)
    assert with_proprio >= 0.9, with_proprio
    assert without <= 0.75, without  # the image and instruction are the same for every sample


def test_a_proprio_policy_refuses_an_observation_without_proprio(make_model, vocabulary):
    from cliprt_agents.policy import CLIPRTPolicy

    policy = CLIPRTPolicy(make_model(proprio=True), vocabulary, device="cpu")
    obs = {"image": np.zeros((32, 32, 3), np.uint8), "instruction": "pick up the red block"}
    with pytest.raises(ValueError, match="proprio"):
        policy.act(obs)
    assert 0 <= int(policy.act({**obs, "proprio": np.zeros(8, np.float32)})) < len(vocabulary)


def test_training_samples_without_proprio_are_refused_by_name(make_model, vocabulary):
    from cliprt_agents.data import collator_for
    from cliprt_agents.synthetic import SyntheticMotionDataset

    collate = collator_for(make_model(proprio=True), vocabulary)
    with pytest.raises(KeyError, match="proprio"):
        collate([SyntheticMotionDataset(4, seed=0)[0]])


@pytest.mark.parametrize("proprio", [True, False])
def test_bc_reads_proprio_when_told_to(tmp_path, vocabulary, proprio):
    """The BC baseline gets the same input as a proprio CLIP-RT model, so the two stay comparable."""
    from cliprt_agents.baselines.bc import BCAgent, BCConfig, train_bc
    from cliprt_agents.data import InMemoryMotionDataset

    data = InMemoryMotionDataset(height_task(400, 0, vocabulary))
    cfg = BCConfig(image_size=32, channels=(16, 32), hidden=64, epochs=10, batch_size=32, lr=3e-3, shift=0, proprio=proprio)
    train_bc(data, vocabulary, cfg, tmp_path, progress=False)
    agent = BCAgent(tmp_path)
    held_out = height_task(64, 1, vocabulary)
    if proprio:
        assert accuracy(agent, held_out) >= 0.9
        with pytest.raises(ValueError, match="proprio"):
            agent.act({"image": held_out[0]["image"], "instruction": held_out[0]["instruction"]})
    else:
        assert accuracy(agent, held_out) <= 0.75
