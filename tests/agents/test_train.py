"""Training: the loss goes down, checkpoints resume exactly, the schedule and the CLI."""

from __future__ import annotations

import argparse
import json
import math
import time

import pytest
import torch

from cliprt_agents.checkpoint import latest_checkpoint, load_model
from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig
from cliprt_agents.data import collator_for
from cliprt_agents.distributed import EpochBatchSampler
from cliprt_agents.errors import CheckpointError
from cliprt_agents.objective import compute_loss
from cliprt_agents.optim import lr_at, no_weight_decay, param_groups
from cliprt_agents.synthetic import SyntheticMotionDataset
from cliprt_agents.train import Trainer, train


def quick(**kwargs) -> TrainConfig:
    base = dict(
        max_steps=6, batch_size=8, lr=1e-3, warmup_steps=2, num_workers=0, val_every=3, checkpoint_every=3, progress=False
    )
    base.update(kwargs)
    return TrainConfig(**base)


def _fixed_loss(model, vocabulary, data, variant="language"):
    batch = collator_for(model, vocabulary)([data[i] for i in range(16)])
    with torch.no_grad():
        return compute_loss(model.eval(), batch, variant, 0.0)[0].item()


@pytest.mark.parametrize("variant", ["language", "action_tokens", "plus"])
def test_a_few_steps_reduce_the_loss(tmp_path, vocabulary, toy_data, make_model, variant):
    data = SyntheticMotionDataset(64, seed=1)
    before = _fixed_loss(make_model(variant, seed=0), vocabulary, data, variant)
    result = train(ModelConfig(backbone=TINY_MODEL, variant=variant), quick(max_steps=8), data, tmp_path)
    model, _ = load_model(result.model_dir)
    after = _fixed_loss(model, vocabulary, data, variant)
    assert after < before
    assert result.step == 8 and result.validation and math.isfinite(result.last_loss)
    key = "val_l1" if variant == "plus" else "val_accuracy"
    assert key in result.validation[-1]


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    data = SyntheticMotionDataset(48, seed=2)
    cfg, mcfg = quick(), ModelConfig(backbone=TINY_MODEL)
    straight = train(mcfg, cfg, data, tmp_path / "a", val_dataset=data)

    import cliprt_agents.train as train_module

    calls = {"n": 0}
    real = train_module.compute_loss

    def crash_on_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("simulated power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "compute_loss", crash_on_fourth)
    with pytest.raises(RuntimeError, match="power cut"):
        train(mcfg, cfg, data, tmp_path / "b", val_dataset=data)
    assert latest_checkpoint(tmp_path / "b").name == "step_0000003"
    monkeypatch.setattr(train_module, "compute_loss", real)
    resumed = train(mcfg, cfg, data, tmp_path / "b", val_dataset=data)
    assert resumed.step == 6
    a, _ = load_model(straight.model_dir)
    b, _ = load_model(resumed.model_dir)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    state = json.loads((latest_checkpoint(tmp_path / "b") / "trainer_state.json").read_text())
    assert state["step"] == 6 and "optimizer" in state
    assert not list((tmp_path / "b").rglob("*.pt")) and not list((tmp_path / "b").rglob("*.pkl"))


def test_a_run_directory_refuses_another_model_config(tmp_path):
    data = SyntheticMotionDataset(32, seed=3)
    train(ModelConfig(backbone=TINY_MODEL), quick(max_steps=3), data, tmp_path)
    with pytest.raises(CheckpointError, match="another model config"):
        train(ModelConfig(backbone=TINY_MODEL, variant="action_tokens"), quick(max_steps=3), data, tmp_path)
    again = Trainer(
        ModelConfig(backbone=TINY_MODEL, variant="action_tokens"), quick(max_steps=3), data, tmp_path, overwrite=True
    ).fit()
    assert again.step == 3


def test_schedule_warms_up_then_decays_to_zero():
    assert lr_at(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_at(10, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_at(55, 1.0, 10, 100) == pytest.approx(0.5)
    assert lr_at(100, 1.0, 10, 100) == pytest.approx(0.0, abs=1e-12)


def test_no_weight_decay_on_gains_biases_and_logit_scale(make_model):
    model = make_model()
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert "clip.logit_scale" in no_decay_names
    assert all(p.ndim >= 2 for p in decay["params"])
    assert any(n.endswith("ln_final.weight") for n in no_decay_names)
    assert no_weight_decay("clip.visual.transformer.resblocks.0.attn.in_proj_bias", torch.nn.Parameter(torch.zeros(3)))
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0


def test_global_batches_do_not_depend_on_the_process_count():
    one = list(EpochBatchSampler(40, 8, 0, 1, seed=4))
    two = [list(EpochBatchSampler(40, 8, r, 2, seed=4)) for r in range(2)]
    assert [a + b for a, b in zip(*two)] == one
    sampler = EpochBatchSampler(40, 8, 0, 1, seed=4)
    sampler.set_epoch(0, start=3)
    assert list(sampler) == one[3:]
    with pytest.raises(ValueError, match="not divisible"):
        EpochBatchSampler(40, 9, 0, 2, seed=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        EpochBatchSampler(4, 8, 0, 1, seed=0)


def test_cli_trains_and_reports(tmp_path, capsys):
    from cliprt.cli import main

    out = tmp_path / "run"
    args = [
        "train",
        "--synthetic",
        "48",
        "--model",
        TINY_MODEL,
        "--pretrained",
        "none",
        "--max-steps",
        "3",
        "--batch-size",
        "8",
        "--lr",
        "1e-3",
        "--warmup",
        "1",
        "--workers",
        "0",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{") :])
    assert summary["steps"] == 3 and summary["model"] == str(out / "model")
    assert (out / "model" / "model.safetensors").is_file() and (out / "metrics.jsonl").is_file()
    # Rerunning the same command resumes (nothing left to do) instead of starting over.
    assert main(args) == 0
    assert "resuming" in capsys.readouterr().out


def test_cli_errors_are_actionable(tmp_path, capsys, monkeypatch):
    from cliprt.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    code = main(["train", "--synthetic", "16", "--pretrained", "laion2b_s34b_b79k", "--out", str(tmp_path), "--no-progress"])
    assert code == 2 and time.perf_counter() - start < 10
    assert "--pretrained none" in capsys.readouterr().err
    code = main(
        ["train", "--data", str(tmp_path / "missing"), "--model", TINY_MODEL, "--pretrained", "none", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "missing" in capsys.readouterr().err


def test_init_from_keeps_the_checkpoints_weights_and_preprocessing(tmp_path, make_model, vocabulary):
    from cliprt_agents.checkpoint import save_model

    source = make_model(seed=5)
    save_model(source, tmp_path / "pretrained", vocabulary)
    cfg_path = tmp_path / "pretrained" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["preprocess"]["resize_mode"] = "squash"  # as a pretrained tag may have set it
    cfg_path.write_text(json.dumps(cfg))
    data = SyntheticMotionDataset(32, seed=4)
    result = train(
        ModelConfig(backbone=TINY_MODEL, variant="plus"),
        quick(max_steps=1, lr=1e-12, warmup_steps=0),
        data,
        tmp_path / "run",
        init_from=tmp_path / "pretrained",
    )
    model, _ = load_model(result.model_dir)
    assert model.preprocess.resize_mode == "squash"
    assert torch.allclose(model.clip.visual.conv1.weight, source.clip.visual.conv1.weight, atol=1e-6)


def test_cli_init_from_takes_the_checkpoints_model_settings_unless_a_flag_changes_one(tmp_path, capsys, vocabulary):
    """``cliprt train --init-from CKPT`` fine-tunes CKPT's model as it is; a flag that is given still wins."""
    from cliprt.cli import main
    from cliprt_agents.checkpoint import read_config, save_model
    from cliprt_agents.config import TINY_CONV_MODEL
    from cliprt_agents.model import build_model

    saved = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, image_size=48, fusion="product")
    save_model(build_model(saved, vocabulary), tmp_path / "ckpt", vocabulary)
    common = ["--synthetic", "16", "--max-steps", "1", "--batch-size", "8", "--workers", "0", "--no-progress"]
    assert main(["train", "--init-from", str(tmp_path / "ckpt"), *common, "--out", str(tmp_path / "a")]) == 0
    assert "model settings from --init-from" in capsys.readouterr().err
    model = read_config(tmp_path / "a" / "model")["model"]
    settings = (model["backbone"], model["image_size"], model["fusion"], model["pretrained"])
    assert settings == (TINY_CONV_MODEL, 48, "product", None)
    args = ["train", "--init-from", str(tmp_path / "ckpt"), "--fusion", "sum", *common, "--out", str(tmp_path / "b")]
    assert main(args) == 0
    assert read_config(tmp_path / "b" / "model")["model"]["fusion"] == "sum"


def _one_error_line(err: str) -> str:
    """The single line cliprt prints for a user error (no traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _weights_files(tmp_path):
    import numpy as np

    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not weights\n")
    noise = tmp_path / "noise.bin"
    raw = np.random.default_rng(0).bytes(4096)
    noise.write_bytes(b"\x17" + raw)  # random bytes (no zip or pickle magic at the start)
    pickle_like = tmp_path / "broken.pt"
    pickle_like.write_bytes(b"\x80\x02" + raw)  # starts like a pickle, then garbage
    other = tmp_path / "other.pt"
    torch.save({"some.tensor": torch.zeros(3)}, other)  # a real torch file, but not this model's weights
    return {"text": text, "noise": noise, "pickle_like": pickle_like, "other_model": other}


@pytest.mark.parametrize("kind", ["text", "noise", "pickle_like", "other_model"])
def test_cli_pretrained_file_that_is_not_weights_fails_clearly(tmp_path, capsys, kind):
    from cliprt.cli import main

    path = _weights_files(tmp_path)[kind]
    out = tmp_path / "runs" / "x"
    args = ["train", "--synthetic", "16", "--model", TINY_MODEL, "--pretrained", str(path), "--out", str(out)]
    assert main([*args, "--no-progress", "--workers", "0"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("cliprt train: error: pretrained weights") and str(path) in line
    assert "an open_clip tag, or none" in line  # the fix
    assert not (tmp_path / "runs").exists()


def test_cli_device_cuda_without_a_gpu_fails_before_any_work(tmp_path, capsys, monkeypatch):
    from cliprt.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def collect(*args, **kwargs):
        raise AssertionError("collected sim data before checking the device")

    monkeypatch.setattr("cliprt_agents.sim_data.collect_sim_dataset", collect)
    out = tmp_path / "run"
    args = ["train", "--collect-sim", "PointTo", "--model", TINY_MODEL, "--pretrained", "none", "--out", str(out)]
    assert main([*args, "--device", "cuda"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "device 'cuda'" in line and "no CUDA GPU" in line and "--device cpu" in line
    assert main([*args, "--device", "gpu"]) == 2
    assert "use cpu, cuda, cuda:N or auto" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_offline_tag_error_is_printed_once_and_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    from cliprt.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    args = ["train", "--synthetic", "64", "--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k", "--no-progress"]
    assert main([*args, "--out", "runs/x"]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("error:") == 1 and "--pretrained none" in printed.err
    assert "Traceback" not in printed.err
    assert not (tmp_path / "runs").exists()  # the folders the failed command made are gone
    kept = tmp_path / "mine"
    (kept / "old").mkdir(parents=True)
    (kept / "old" / "notes.txt").write_text("keep me")
    assert main([*args, "--out", "mine/old"]) == 2
    assert main([*args, "--out", "mine/new/x"]) == 2
    capsys.readouterr()
    assert sorted(p.name for p in kept.iterdir()) == ["old"]  # what existed before is untouched
    assert (kept / "old" / "notes.txt").read_text() == "keep me"


def test_other_torchrun_ranks_leave_the_report_to_rank_0(tmp_path, capsys, monkeypatch):
    """A rank other than 0 prints only if it is still running after rank 0 had time to report and exit."""
    from cliprt.cli import main

    monkeypatch.setattr("cliprt_agents.cli.RANK_ERROR_GRACE_S", 0.0)
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit) as info:
        main(["train", "--synthetic", "1", "--model", TINY_MODEL, "--pretrained", "none", "--out", str(tmp_path / "r")])
    assert info.value.code == 2
    assert "(rank 1)" in _one_error_line(capsys.readouterr().err)


def test_train_and_demo_options_all_have_help_and_show_defaults_once():
    from cliprt.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("train", "demo"):
        sub = subparsers.choices[name]
        assert sub.description, f"cliprt {name} has no description"
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"cliprt {name} {action.option_strings} has no help"
        text = sub.format_help()
        assert "(default: None)" not in text
        for forbidden in ("REFERENCE.md", "DESIGN.md"):
            assert forbidden not in text
    train_parser = subparsers.choices["train"]
    formatter = train_parser.formatter_class("cliprt train")
    for action in train_parser._actions:  # --device said "(default: cuda when available) (default: None)"
        if action.help:
            assert formatter._expand_help(action).count("default") <= 1, action.option_strings


def test_no_user_facing_text_cites_project_only_files():
    """Users have the package, not REFERENCE.md or DESIGN.md: docstrings, messages and help never cite them."""
    from pathlib import Path

    root = Path(__file__).parents[2]
    files = [
        *sorted((root / "cliprt_agents").rglob("*.py")),
        *sorted((root / "cliprt").rglob("*.py")),
    ]
    cited = [str(f.relative_to(root)) for f in files if "REFERENCE.md" in f.read_text() or "DESIGN.md" in f.read_text()]
    assert cited == []
