"""BC initialised from a CLIP-RT checkpoint's image tower: the fair BC baseline for a pretrained CLIP-RT."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cliprt_agents.baselines.bc import BCAgent, BCNet, BCTowerNet, tower_net, train_bc
from cliprt_agents.baselines.configs import BCConfig
from cliprt_agents.checkpoint import load_model
from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig, TrainConfig
from cliprt_agents.conv_tower import ConvImageTower
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_agents.synthetic import SyntheticMotionDataset
from cliprt_envs.motions import default_vocabulary

#: a small head and one quick epoch: these tests check plumbing, not learning
TINY = dict(hidden=16, epochs=1, batch_size=16, seed=0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A CLIP-RT-TinyConv run (2 optimiser steps) whose image tower BC starts from."""
    from cliprt_agents.train import train

    run = tmp_path_factory.mktemp("cliprt") / "run"
    data = SyntheticMotionDataset(32, image_size=64, seed=0)
    cfg = TrainConfig(max_steps=2, batch_size=8, lr=1e-3, warmup_steps=0, num_workers=0, val_every=2, progress=False)
    train(ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, image_size=64), cfg, data, run)
    return run


def _visual_state(path) -> dict[str, torch.Tensor]:
    model, _ = load_model(path)
    return {k: v.clone() for k, v in model.clip.visual.state_dict().items()}


def _saved_tower(out) -> dict[str, torch.Tensor]:
    return {k[len("visual.") :]: v for k, v in load_file(str(out / "bc_model.safetensors")).items() if k.startswith("visual.")}


def test_bc_starts_from_the_checkpoints_image_tower(checkpoint, tmp_path):
    expected = _visual_state(checkpoint)
    net, spec, info = tower_net(BCConfig(init_from=str(checkpoint), **TINY), len(default_vocabulary()))
    assert isinstance(net.visual, ConvImageTower) and spec.size == 64
    got = net.visual.state_dict()
    assert got.keys() == expected.keys() and all(torch.equal(got[k], v) for k, v in expected.items())
    assert info["model"]["backbone"] == TINY_CONV_MODEL and info["preprocess"] == spec.to_dict()
    # through train_bc: a frozen tower (tower_lr_scale=0) comes out as it went in; the head learned
    data = SyntheticMotionDataset(48, image_size=64, seed=1)
    train_bc(data, default_vocabulary(), BCConfig(init_from=str(checkpoint), tower_lr_scale=0.0, **TINY), tmp_path, False)
    saved = _saved_tower(tmp_path)
    assert saved.keys() == expected.keys() and all(torch.equal(saved[k], v) for k, v in expected.items())


@pytest.mark.sim
def test_saved_tower_bc_is_self_contained_and_acts_in_the_sim(checkpoint, tmp_path):
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("mujoco")
    import cliprt_envs  # noqa: F401  (registers the envs)

    ckpt = shutil.copytree(checkpoint, tmp_path / "ckpt")
    before = _visual_state(ckpt)
    env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64)
    vocab = env.unwrapped.vocabulary
    data = SyntheticMotionDataset(48, image_size=64, vocabulary=vocab, seed=1)
    out = tmp_path / "bc"
    train_bc(data, vocab, BCConfig(init_from=str(ckpt), **TINY), out, progress=False)
    meta = json.loads((out / "bc_config.json").read_text())
    assert meta["tower"]["model"]["backbone"] == TINY_CONV_MODEL and meta["config"]["init_from"] == str(ckpt)
    assert not any(torch.equal(_saved_tower(out)[k], v) for k, v in before.items() if v.is_floating_point())  # fine-tuned
    shutil.rmtree(ckpt)  # the BC model must not need the checkpoint it started from
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.pkl"))
    agent = make_agent(AgentSpec.parse(f"bc={out}"), vocab)
    assert isinstance(agent, BCAgent) and isinstance(agent.model, BCTowerNet) and agent.spec.size == 64
    saved = load_file(str(out / "bc_model.safetensors"))
    assert all(torch.equal(agent.model.state_dict()[k], v) for k, v in saved.items())
    try:
        obs, _ = env.reset(seed=0)
        agent.reset(obs["instruction"])
        for _ in range(3):
            action = agent.act(obs)
            assert isinstance(action, int) and 0 <= action < env.action_space.n
            obs, *_ = env.step(action)
    finally:
        env.close()
    batch = {"image": np.stack([data[i]["image"] for i in range(4)]), "instruction": [data[i]["instruction"] for i in range(4)]}
    scores = agent.scores(batch)
    assert scores.shape == (4, len(vocab)) and np.allclose(scores.sum(1), 1.0, atol=1e-5)


def test_plain_bc_is_unchanged_and_old_checkpoints_load(tmp_path):
    vocab = default_vocabulary()
    data = SyntheticMotionDataset(40, image_size=32, vocabulary=vocab, seed=0)
    cfg = BCConfig(image_size=32, channels=(8,), **TINY)
    train_bc(data, vocab, cfg, tmp_path, progress=False)
    meta_path = tmp_path / "bc_config.json"
    meta = json.loads(meta_path.read_text())
    assert "tower" not in meta and meta["config"]["init_from"] is None
    assert set(load_file(str(tmp_path / "bc_model.safetensors"))) == set(BCNet(cfg, len(vocab)).state_dict())
    agent = BCAgent(tmp_path)
    assert isinstance(agent.model, BCNet) and agent.spec is None
    obs = {"image": data[0]["image"], "instruction": data[0]["instruction"]}
    # a checkpoint written before init_from existed (no such keys in its config) loads and acts the same
    for key in ("init_from", "tower_lr_scale"):
        del meta["config"][key]
    meta_path.write_text(json.dumps(meta))
    old = BCAgent(tmp_path)
    assert np.array_equal(old.scores(obs), agent.scores(obs))


def test_init_from_flag_and_its_errors(tmp_path):
    import argparse

    from cliprt_agents.flags import add_config_flags, config_from_flags

    parser = argparse.ArgumentParser()
    add_config_flags(parser, BCConfig, dest_prefix="bc_")
    args = parser.parse_args(["--init-from", "runs/x", "--tower-lr-scale", "0.05"])
    cfg = config_from_flags(BCConfig, args, dest_prefix="bc_")
    assert cfg.init_from == "runs/x" and cfg.tower_lr_scale == 0.05
    assert config_from_flags(BCConfig, parser.parse_args([]), dest_prefix="bc_") == BCConfig()
    with pytest.raises(ValueError, match="tower_lr_scale"):
        BCConfig(tower_lr_scale=-1.0)
    from cliprt_agents.errors import CheckpointError

    data = SyntheticMotionDataset(8, image_size=32, seed=0)
    with pytest.raises(CheckpointError, match="does not exist"):
        train_bc(data, default_vocabulary(), BCConfig(init_from=str(tmp_path / "nowhere"), **TINY), tmp_path / "o", False)


def test_train_bc_command_with_init_from(checkpoint, tmp_path, capsys):
    from cliprt.cli import main

    out = tmp_path / "bc"
    argv = ["train", "bc", "--synthetic", "32", "--init-from", str(checkpoint), "--hidden", "8", "--epochs", "1"]
    assert main([*argv, "--batch-size", "16", "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["train_samples"] > 0
    agent = BCAgent(out)  # the CLI's synthetic images are 32 px: the tower's preprocessing brings them to 64
    assert agent.config.init_from == str(checkpoint) and agent.spec.size == 64
    assert isinstance(agent.act({"image": np.zeros((48, 80, 3), np.uint8), "instruction": "move left"}), int)
