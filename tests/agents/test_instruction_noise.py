"""TrainConfig.instruction_noise: noise on the prompt embeddings in training forwards only."""

from __future__ import annotations

import pytest
import torch

from cliprt_agents.instruction_noise import relative_noise


def test_noise_has_the_asked_size_relative_to_each_row():
    emb = torch.randn(64, 256) * torch.linspace(0.5, 4.0, 64)[:, None]
    noisy = relative_noise(emb, 0.6, torch.Generator().manual_seed(0))
    ratio = (noisy - emb).norm(dim=-1) / emb.norm(dim=-1)
    assert ratio.mean().item() == pytest.approx(0.6, abs=0.03) and ratio.std().item() < 0.08
    assert relative_noise(emb, 0.0) is emb


def test_training_forwards_are_noisy_and_eval_forwards_are_not(toy_data):
    from cliprt_agents.config import TINY_MODEL, ModelConfig
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import build_model
    from cliprt_envs.motions import default_vocabulary

    vocabulary = default_vocabulary()
    model = build_model(ModelConfig(backbone=TINY_MODEL, pretrained=None), vocabulary, load_pretrained=False)
    batch = collator_for(model, vocabulary)([toy_data[i] for i in range(4)])

    def context(train: bool) -> torch.Tensor:
        model.train(train)
        with torch.no_grad():
            return model(batch["images"], batch["prompt_tokens"], batch["prompt_index"])["context"]

    model.instruction_noise = 0.6
    assert torch.equal(context(False), context(False))
    assert not torch.allclose(context(True), context(True))
    model.instruction_noise = 0.0
    assert torch.equal(context(True), context(True))
