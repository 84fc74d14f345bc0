"""``cliprt pretrain-data`` and ``cliprt pretrain``: the recipe as defaults, resumable, the model loads and acts."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.sim


def test_pretrain_data_then_pretrain_from_a_folder_of_ones_own(tmp_path, monkeypatch, capsys):
    import gymnasium as gym

    import cliprt_envs  # noqa: F401
    from cliprt.cli import main
    from cliprt_agents.policy import load_policy

    monkeypatch.chdir(tmp_path)
    assert main(["pretrain-data", "--out", "corpus", "--episodes-per-task", "2", "--tasks", "PointTo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    made = json.loads(out)
    assert made["episodes"] == 2 and made["labelled_steps"] > 0
    run = ["pretrain", "--data", "corpus", "--out", "run", "--max-steps", "4", "--batch-size", "8", "--num-workers", "0"]
    run += ["--val-every", "2", "--checkpoint-every", "2", "--no-progress", "--val-fraction", "0"]
    assert main(run) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 4
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["model"]["backbone"] == "CLIPRT-TinyConv" and config["model"]["fusion"] == "product"
    assert main(run) == 0  # the same command again: already finished, nothing redone
    again = capsys.readouterr().out
    assert "resuming" in again and json.loads(again[again.index("{\n") :])["steps"] == 4
    policy = load_policy("run", device="cpu")
    env = gym.make("CLIPRT-UR5Sim-PointTo-v0", image_size=64, camera="wrist")
    obs, _ = env.reset(seed=1_000_000)
    policy.reset(obs["instruction"])
    assert 0 <= int(policy.act(obs)) < len(policy.vocabulary)
    env.close()


def test_pretrain_names_a_missing_corpus(tmp_path, monkeypatch, capsys):
    from cliprt.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["pretrain", "--data", "nowhere", "--out", "run", "--no-progress"]) == 2
    assert "cliprt pretrain-data" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
