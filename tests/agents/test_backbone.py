"""open_clip loading: the tiny config, and failing fast and clearly without weights or network."""

from __future__ import annotations

import time

import pytest

from cliprt_agents.backbone import create_clip, resolve_weights
from cliprt_agents.config import TINY_MODEL
from cliprt_agents.errors import PretrainedWeightsUnavailableError


def test_tiny_model_is_registered_and_small():
    model, preprocess = create_clip(TINY_MODEL, None)
    n = sum(p.numel() for p in model.parameters())
    assert n < 10_000_000
    assert preprocess["size"] in (64, (64, 64))
    import open_clip

    assert TINY_MODEL in open_clip.list_models()


def test_offline_pretrained_tag_fails_at_once_with_a_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(PretrainedWeightsUnavailableError) as info:
        create_clip("ViT-B-32", "laion2b_s34b_b79k")
    assert time.perf_counter() - start < 5.0
    message = str(info.value)
    assert "--pretrained none" in message and "local weights file" in message and "open_clip.create_model" in message


def test_unreachable_hub_fails_fast_without_offline_flag(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("cliprt_agents.backbone.network_reachable", lambda url, timeout=2.0: False)
    start = time.perf_counter()
    with pytest.raises(PretrainedWeightsUnavailableError, match="no network"):
        resolve_weights("ViT-B-32", "openai")
    assert time.perf_counter() - start < 5.0


def test_cached_weights_are_used_without_network(monkeypatch, tmp_path):
    fake = tmp_path / "open_clip_model.safetensors"
    fake.write_bytes(b"")
    monkeypatch.setattr("cliprt_agents.backbone._hub_cached_file", lambda hub: str(fake))
    resolved = resolve_weights("ViT-B-32", "laion2b_s34b_b79k")
    assert resolved.source == str(fake)
    assert resolved.preprocess["interpolation"] == "bicubic"


def test_unknown_tag_and_missing_file_are_clear():
    with pytest.raises(ValueError, match="known tags"):
        resolve_weights("ViT-B-32", "no-such-tag")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_weights("ViT-B-32", "/no/such/weights.bin")
    with pytest.raises(ValueError, match="unknown open_clip model"):
        create_clip("ViT-Nope-99", None)


def test_local_weights_file_is_loaded(tmp_path):
    import torch

    model, _ = create_clip(TINY_MODEL, None)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    again, _ = create_clip(TINY_MODEL, str(path))
    assert torch.equal(again.visual.conv1.weight, model.visual.conv1.weight)


def test_uncached_hub_model_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(PretrainedWeightsUnavailableError, match="huggingface-cli download"):
        create_clip("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", None)
    assert time.perf_counter() - start < 5.0


def test_local_weights_files_load_in_torch_and_safetensors_formats(tmp_path):
    import torch
    from safetensors.torch import save_file

    model, _ = create_clip(TINY_MODEL, None)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "weights.pt")
    save_file(state, str(tmp_path / "weights.safetensors"))
    for name in ("weights.pt", "weights.safetensors"):
        loaded, _ = create_clip(TINY_MODEL, str(tmp_path / name))
        assert torch.equal(loaded.visual.conv1.weight, model.visual.conv1.weight), name


def test_a_file_that_is_not_weights_is_named_with_the_fix(tmp_path):
    from cliprt_agents.errors import WeightsFileError

    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(WeightsFileError, match="is empty; pass an open_clip weights file"):
        create_clip(TINY_MODEL, str(tmp_path / "empty.bin"))
    with pytest.raises(WeightsFileError, match="is a text file"):
        create_clip(TINY_MODEL, str(tmp_path / "readme.txt"))
