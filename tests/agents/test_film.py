"""CLIP-RT whose image tower reads the instruction (``ModelConfig.film``): FiLM on the CNN's stages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cliprt_agents.config import TINY_CONV_MODEL, TINY_MODEL, ModelConfig, TrainConfig
from cliprt_agents.conv_tower import ConvImageTower, FiLM

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 30)}
#: Where each of the four slots lies from the image centre, and the motion that goes there.
SLOTS = {
    (0, -9): "move the arm to the left by 5 centimeters",
    (0, 9): "move the arm to the right by 5 centimeters",
    (-9, 0): "move the arm forward by 5 centimeters",
    (9, 0): "move the arm back by 5 centimeters",
}


def named_object_task(scenes: int, seed: int, vocabulary) -> list[dict]:
    """Four coloured squares in four slots around the centre, in a random order; go to the one named.

    Every scene is asked once per colour, so the image alone never tells the
    motion and neither does the instruction: only where *the named* square is.
    """
    rng = np.random.default_rng(seed)
    items = []
    for scene in range(scenes):
        image = np.full((32, 32, 3), 110, np.uint8)
        slots = list(SLOTS)
        order = rng.permutation(len(slots))
        where = {}
        for colour, k in zip(COLOURS, order):
            dy, dx = slots[k]
            y, x = 16 + dy + int(rng.integers(-2, 3)), 16 + dx + int(rng.integers(-2, 3))
            image[y - 2 : y + 3, x - 2 : x + 3] = COLOURS[colour]
            where[colour] = SLOTS[slots[k]]
        for colour, text in where.items():
            items.append(
                {
                    "image": image,
                    "instruction": f"go to the {colour} square",
                    "supervision": text,
                    "motion_id": vocabulary.id_of(text),
                    "action": vocabulary.delta(vocabulary.id_of(text)).astype(np.float32),
                    "episode_index": scene,
                }
            )
    return items


def accuracy(policy, items) -> float:
    obs = {"image": np.stack([it["image"] for it in items]), "instruction": [it["instruction"] for it in items]}
    return float(np.mean(np.asarray(policy.act(obs)) == np.array([it["motion_id"] for it in items])))


def test_film_starts_as_the_tower_without_it_and_then_modulates_it():
    torch.manual_seed(0)
    tower = ConvImageTower(16, image_size=32)
    film = FiLM(12, tower.widths)
    assert tower.widths == (32, 64, 128)
    x, cond = torch.randn(3, 3, 32, 32), torch.randn(3, 12)
    torch.testing.assert_close(tower(x, film=film(cond)), tower(x))  # zero output layer: the plain tower at first
    torch.nn.init.normal_(film.out.weight, std=0.1)
    assert not torch.allclose(tower(x, film=film(cond)), tower(x))
    with pytest.raises(ValueError, match="stages"):
        tower(x, film=film(cond)[:2])


def test_film_needs_the_cnn_tower_and_the_prompt(vocabulary):
    from cliprt_agents.model import build_model

    with pytest.raises(ValueError, match="CNN image tower"):
        build_model(ModelConfig(backbone=TINY_MODEL, pretrained=None, film=True), vocabulary)
    model = build_model(ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, image_size=32, film=True), vocabulary)
    with pytest.raises(ValueError, match="prompt_emb"):
        model.encode_observation(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="encode_observation"):  # the tower alone would silently ignore the instruction
        model.encode_image(torch.zeros(1, 3, 32, 32))


def test_film_model_learns_to_go_to_the_named_object_and_round_trips(tmp_path, vocabulary):
    """At the same budget, FiLM answers held-out scenes right; the model that meets the instruction only after
    pooling (product fusion) is still near chance (measured: 1.00 vs 0.25 after 1000 steps on seed 0). Training is
    not bit for bit the same on every CPU: after 500 steps FiLM had 1.00 on one of this project's machines and 0.78
    on another, so the budget leaves room."""
    from cliprt_agents.data import InMemoryMotionDataset
    from cliprt_agents.errors import CheckpointError
    from cliprt_agents.policy import load_policy
    from cliprt_agents.train import train

    data = InMemoryMotionDataset(named_object_task(96, 0, vocabulary))
    held_out = named_object_task(24, 1, vocabulary)
    config = TrainConfig(
        max_steps=1000, batch_size=32, lr=1e-3, warmup_steps=10, num_workers=0, val_every=1000, progress=False, loss="vocabulary"
    )
    plain_cfg = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product", image_size=32)
    film_cfg = ModelConfig(**{**plain_cfg.to_dict(), "film": True})
    torch.manual_seed(0)
    plain = train(plain_cfg, config, data, tmp_path / "plain")
    torch.manual_seed(0)
    taught = train(film_cfg, config, data, tmp_path / "film")
    policy = load_policy(taught.model_dir, device="cpu")
    assert policy.model.config.film
    assert accuracy(policy, held_out) >= 0.9
    assert accuracy(load_policy(plain.model_dir, device="cpu"), held_out) <= 0.75
    # the image embedding itself depends on the instruction
    model = policy.model
    with torch.no_grad():
        pixels = torch.randn(1, 3, 32, 32).expand(2, -1, -1, -1)
        prompts = model.encode_prompt(model.prompt_tokenizer(["go to the red square", "go to the blue square"]))
        emb = model.encode_observation(pixels, None, prompts)
    assert not torch.allclose(emb[0], emb[1], atol=1e-4)
    # from a checkpoint without FiLM (--init-from), a FiLM model first acts exactly like it; not the other way round
    once = TrainConfig(**{**config.to_dict(), "max_steps": 1, "lr": 1e-12})
    start = train(film_cfg, once, data, tmp_path / "start", init_from=plain.model_dir)
    obs = {"image": np.stack([it["image"] for it in held_out[:4]]), "instruction": [it["instruction"] for it in held_out[:4]]}
    np.testing.assert_allclose(
        load_policy(start.model_dir, device="cpu").logits(obs), load_policy(plain.model_dir, device="cpu").logits(obs), atol=1e-3
    )
    with pytest.raises(CheckpointError, match="--film"):
        train(plain_cfg, once, data, tmp_path / "back", init_from=taught.model_dir)
