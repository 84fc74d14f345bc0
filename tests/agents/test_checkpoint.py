"""Model save/load round trips, and clear errors for bad checkpoints and other vocabularies."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cliprt_agents.checkpoint import (
    load_model,
    optimizer_from_safetensors,
    optimizer_to_safetensors,
    save_model,
)
from cliprt_agents.errors import CheckpointError, VocabularyMismatchError
from cliprt_agents.policy import CLIPRTPolicy, load_policy
from cliprt_envs.motions import Vocabulary


def _obs(toy_data, n=3):
    items = [toy_data[i] for i in range(n)]
    return {"image": np.stack([it["image"] for it in items]), "instruction": [it["instruction"] for it in items]}


@pytest.mark.parametrize("variant", ["language", "action_tokens", "plus"])
def test_round_trip_gives_identical_scores(make_model, vocabulary, toy_data, tmp_path, variant):
    model = make_model(variant, seed=3)
    with torch.no_grad():  # make sure non-default weights survive (not re-initialised on load)
        model.clip.logit_scale.fill_(3.0)
    save_model(model, tmp_path / "m", vocabulary)
    assert (tmp_path / "m" / "model.safetensors").is_file() and (tmp_path / "m" / "config.json").is_file()
    loaded, vocab = load_model(tmp_path / "m")
    assert vocab == vocabulary
    obs = _obs(toy_data)
    a = CLIPRTPolicy(model, vocabulary).scores(obs)
    b = CLIPRTPolicy(loaded, vocab).scores(obs)
    assert np.array_equal(a, b)
    if variant == "plus":
        pa = load_policy(tmp_path / "m").predict_chunk(obs)
        assert pa.shape == (3, 8, 8)


def test_conv_tower_with_product_fusion_round_trips(vocabulary, toy_data, tmp_path):
    from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig
    from cliprt_agents.conv_tower import ConvImageTower
    from cliprt_agents.model import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone=TINY_CONV_MODEL, fusion="product"), vocabulary).eval()
    assert isinstance(model.clip.visual, ConvImageTower)
    save_model(model, tmp_path / "m", vocabulary)
    loaded, vocab = load_model(tmp_path / "m")
    assert isinstance(loaded.clip.visual, ConvImageTower) and loaded.config.fusion == "product"
    obs = _obs(toy_data)
    assert np.array_equal(CLIPRTPolicy(model, vocabulary).scores(obs), CLIPRTPolicy(loaded, vocab).scores(obs))


def test_files_are_safetensors_and_json_only(make_model, vocabulary, tmp_path):
    save_model(make_model(), tmp_path, vocabulary)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["format"] == "cliprt-checkpoint" and cfg["vocabulary"]["name"] == vocabulary.name


def test_vocabulary_serialisation_round_trip(vocabulary):
    assert Vocabulary.from_dict(vocabulary.to_dict()) == vocabulary


def test_other_vocabulary_is_refused_with_a_reason(make_model, vocabulary, tmp_path):
    save_model(make_model(), tmp_path, vocabulary)
    coarse = Vocabulary.build(position_magnitudes=(0.05,), rotation_magnitudes_deg=(15,))
    with pytest.raises(VocabularyMismatchError, match="motions in the checkpoint"):
        load_model(tmp_path, vocabulary=coarse)
    # A language model may score new motion texts when asked to (zero-shot).
    model, vocab = load_model(tmp_path, vocabulary=coarse, allow_new_vocabulary=True)
    assert vocab is coarse and CLIPRTPolicy(model, vocab)._motion_emb.shape[0] == len(coarse)


def test_action_token_model_never_takes_another_vocabulary(make_model, vocabulary, tmp_path):
    save_model(make_model("action_tokens"), tmp_path, vocabulary)
    other = Vocabulary.build(position_magnitudes=(0.02, 0.04, 0.08, 0.16))
    with pytest.raises(VocabularyMismatchError, match="motion 0"):
        load_model(tmp_path, vocabulary=other, allow_new_vocabulary=True)


def test_bad_checkpoints_give_clear_errors(make_model, vocabulary, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no CLIP-RT checkpoint"):
        load_model(tmp_path / "empty")
    good = tmp_path / "good"
    save_model(make_model(), good, vocabulary)

    broken_json = tmp_path / "broken_json"
    broken_json.mkdir()
    (broken_json / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="damaged"):
        load_model(broken_json)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="not a CLIP-RT checkpoint"):
        load_model(foreign)

    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_text((good / "config.json").read_text())
    (truncated / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="damaged or not a safetensors"):
        load_model(truncated)

    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((good / "config.json").read_text())
    with pytest.raises(CheckpointError, match="missing"):
        load_model(no_weights)

    # Weights of another architecture under a config that claims this one.
    other = tmp_path / "other"
    save_model(make_model("plus"), other, vocabulary)
    (other / "config.json").write_text((good / "config.json").read_text())
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(other)

    pickle = tmp_path / "model.pt"
    pickle.write_bytes(b"\x80\x04")
    with pytest.raises(CheckpointError, match="not a CLIP-RT checkpoint"):
        load_model(pickle)


def test_policy_loads_on_a_device_in_one_argument(make_model, vocabulary, tmp_path):
    save_model(make_model(), tmp_path, vocabulary)
    policy = CLIPRTPolicy.from_checkpoint(tmp_path, device="cpu")
    assert next(policy.model.parameters()).device.type == "cpu"
    if torch.cuda.is_available():  # pragma: no cover - no GPU on CI
        gpu = CLIPRTPolicy.from_checkpoint(tmp_path, device="cuda")
        assert next(gpu.model.parameters()).is_cuda


def test_optimizer_state_round_trip_without_pickle(make_model):
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    model.clip.logit_scale.grad = torch.tensor(1.0)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    tensors, meta = optimizer_to_safetensors(opt)
    json.dumps(meta)  # JSON-able
    fresh = torch.optim.AdamW(model.parameters(), lr=5.0)
    fresh.load_state_dict(optimizer_from_safetensors(tensors, meta))
    assert fresh.param_groups[0]["lr"] == 1e-3 and fresh.param_groups[0]["betas"] == (0.9, 0.98)
    p0 = next(iter(model.parameters()))
    assert torch.equal(fresh.state[p0]["exp_avg"], opt.state[p0]["exp_avg"])
