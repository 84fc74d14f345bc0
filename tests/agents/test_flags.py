"""CLI flags generated from the config dataclasses: every hyper-parameter is declared once."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest

from cliprt_agents.baselines.configs import BCConfig, PPOConfig
from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig
from cliprt_agents.flags import add_config_flags, cli_fields, config_from_flags

#: The flags `cliprt train` had when they were written by hand: each must still work.
OLD_TRAIN_FLAGS = {
    "--model": "ViT-B-16",
    "--pretrained": "none",
    "--variant": "plus",
    "--fusion": "product",
    "--image-size": "64",
    "--chunk-size": "4",
    "--action-dims": "8",
    "--epochs": "3",
    "--max-steps": "7",
    "--batch-size": "4",
    "--lr": "1e-3",
    "--warmup": "5",
    "--weight-decay": "0.01",
    "--grad-clip": "0",
    "--precision": "fp32",
    "--contrastive-weight": "0.5",
    "--workers": "0",
    "--val-fraction": "0.2",
    "--val-every": "11",
    "--checkpoint-every": "13",
    "--keep": "3",
    "--seed": "9",
    "--device": "cpu",
    "--threads": "1",
}


def _train_parser() -> argparse.ArgumentParser:
    from cliprt.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def _parse(cls, argv, **kw):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, cls, **kw)
    return parser.parse_args(argv)


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig, BCConfig])
def test_no_flags_give_the_dataclass_defaults(cls):
    got = config_from_flags(cls, _parse(cls, []))
    expected = cls()
    if cls is ModelConfig:  # the command fine-tunes pretrained weights; the library builds what it is given
        expected = dataclasses.replace(expected, pretrained="laion2b_s34b_b79k")
    assert got == expected


def test_every_flag_field_has_help():
    for cls in (ModelConfig, TrainConfig, BCConfig, PPOConfig):
        for f in cli_fields(cls):
            assert f.metadata["help"], f"{cls.__name__}.{f.name}"


def test_old_flag_names_reach_the_same_fields():
    from cliprt_agents.cli import _configs

    argv = ["--synthetic", "8", "--out", "x"]
    for flag, value in OLD_TRAIN_FLAGS.items():
        argv += [flag, value]
    args = _train_parser().parse_args(argv)
    model, train = _configs(args)
    assert (model.backbone, model.pretrained, model.variant, model.fusion) == ("ViT-B-16", None, "plus", "product")
    assert (model.image_size, model.chunk_size, model.action_indices) == (64, 4, tuple(range(8)))
    assert train == TrainConfig(
        epochs=3,
        max_steps=7,
        batch_size=4,
        lr=1e-3,
        warmup_steps=5,
        weight_decay=0.01,
        grad_clip=None,  # --grad-clip 0: off
        precision="fp32",
        contrastive_weight=0.5,
        num_workers=0,
        val_fraction=0.2,
        val_every=11,
        checkpoint_every=13,
        keep_checkpoints=3,
        seed=9,
    )
    assert args.device == "cpu" and args.threads == 1


def test_new_names_aliases_tuples_and_negated_bools():
    args = _parse(TrainConfig, ["--warmup-steps", "4", "--keep-checkpoints", "5", "--betas", "0.8", "0.9", "--no-progress"])
    cfg = config_from_flags(TrainConfig, args)
    assert (cfg.warmup_steps, cfg.keep_checkpoints, cfg.betas, cfg.progress) == (4, 5, (0.8, 0.9), False)
    assert config_from_flags(TrainConfig, _parse(TrainConfig, ["--warmup", "4"])).warmup_steps == 4
    bc = config_from_flags(BCConfig, _parse(BCConfig, ["--channels", "8", "16"], dest_prefix="bc_"), dest_prefix="bc_")
    assert bc.channels == (8, 16)
    with pytest.raises(SystemExit):
        _parse(TrainConfig, ["--precision", "fp64"])


def test_ppo_env_ids_are_required():
    with pytest.raises(SystemExit):
        _parse(PPOConfig, [], required=("env_ids",))
    args = _parse(PPOConfig, ["--env", "A", "B", "--lr", "1e-3"], required=("env_ids",))
    cfg = config_from_flags(PPOConfig, args)
    assert cfg.env_ids == ("A", "B") and cfg.learning_rate == 1e-3


def test_a_field_without_help_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Bad:
        x: int = 1

    with pytest.raises(TypeError, match="no help"):
        _parse(Bad, [])


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig])
def test_from_dict_is_strict(cls):
    data = {**cls().to_dict(), "lr_typo": 1}
    with pytest.raises(ValueError, match=r"unknown (model|train) config keys \['lr_typo'\]"):
        cls.from_dict(data)
    assert cls.from_dict(cls().to_dict()) == cls()


def test_train_bc_command_trains_a_loadable_baseline(tmp_path, capsys):
    from cliprt.cli import main
    from cliprt_agents.baselines.bc import BCAgent

    out = tmp_path / "bc"
    argv = ["train", "bc", "--synthetic", "48", "--image-size", "16", "--channels", "8", "--hidden", "8"]
    assert main([*argv, "--epochs", "1", "--batch-size", "16", "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["data"]["source"] == "synthetic" and printed["train_samples"] > 0
    agent = BCAgent(out)
    assert agent.config.channels == (8,) and agent.config.image_size == 16
    act = agent.act({"image": np.zeros((32, 32, 3), np.uint8), "instruction": "move left"})
    assert isinstance(act, int)


def test_train_bc_needs_data_and_out(capsys):
    from cliprt.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", "bc", "--out", "x"])
    assert info.value.code == 2 and "--synthetic" in capsys.readouterr().err


def test_train_ppo_command_trains_a_loadable_baseline(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    from cliprt.cli import main
    from cliprt_agents.baselines.ppo import PPOAgent

    out = tmp_path / "ppo"
    argv = ["train", "ppo", "--env", "CLIPRT-UR5Sim-Pick-v0", "--total-timesteps", "32", "--n-envs", "1"]
    argv += ["--n-steps", "32", "--batch-size", "32", "--image-size", "36", "--render-size", "40", "--seed", "1"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["timesteps"] == 32
    agent = PPOAgent(out)
    assert agent.config.env_ids == ("CLIPRT-UR5Sim-Pick-v0",) and agent.config.seed == 1


def test_train_without_a_baseline_still_needs_out_and_data(capsys):
    from cliprt.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", "--synthetic", "8", "--model", TINY_MODEL])
    assert info.value.code == 2 and "the following arguments are required: --out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", "x"])
    assert info.value.code == 2 and "one of the arguments --data --collect-sim --synthetic is required" in capsys.readouterr().err
