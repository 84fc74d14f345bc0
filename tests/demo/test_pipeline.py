"""The main job (cliprt demo) end to end on one task with tiny settings, and its resume rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cliprt.demo.pipeline import DemoConfig, run_demo
from cliprt_agents.baselines.bc import CONFIG_FILE as BC_CONFIG_FILE


def _tiny(out, init: str | None = None) -> DemoConfig:
    return DemoConfig(
        out,
        tasks=("PointTo",),
        demos_per_task=2,
        sta_per_demo=1,
        image_size=40,
        init=init,
        clip_steps=2,
        clip_batch_size=8,
        bc_epochs=2,
        bc_pretrained_epochs=1,
        ppo_steps=128,
        eval_episodes=1,
        num_envs=1,
    )


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A CLIPRT-TinyConv checkpoint made in 2 steps (what the shipped pretrained one is, in miniature)."""
    from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig, TrainConfig
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    out = tmp_path_factory.mktemp("pretrained") / "run"
    config = TrainConfig(max_steps=2, batch_size=8, num_workers=0, val_fraction=0.0, progress=False)
    model = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product", image_size=64)
    train(model, config, SyntheticMotionDataset(32), out)
    return str(out)


def test_demo_end_to_end_then_resume_and_refuse_other_settings(tmp_path, tiny_checkpoint):
    config = _tiny(tmp_path / "demo", init=tiny_checkpoint)
    results = run_demo(config)
    summary = json.loads((config.out / "bench" / "results.json").read_text())["summary"]
    agents = {"expert", "random", "clip-rt", "clip-rt-passive", "clip-rt-action", "clip-rt-zero", "bc", "bc-pretrained", "ppo"}
    assert agents == set(summary)
    assert "| expert |" in results["bench"]["table"] and "| clip-rt-zero |" in results["bench"]["sets_table"]
    assert set(results["bench"]["sets"]["clip-rt"]) == {"Common"}
    assert (config.out / "bench" / "success.png").is_file()
    stages = {p.stem for p in (config.out / "stages").glob("*.json")}
    assert {"collect", "augment", "train_clip_rt", "train_clip_rt_passive", "train_clip_rt_action"} <= stages
    assert {"train_bc", "train_bc_pretrained", "train_ppo", "bench", "bench_heldout"} <= stages
    settings = json.loads((config.out / "bench" / "bench_config.json").read_text())
    assert settings["workers"] == 2  # stages and benchmark side by side (config.jobs)
    options = {label: a["options"] for label, a in settings["agents"].items()}
    assert options["clip-rt"] == options["bc"] == {"selection": "sample", "temperature": "0.3", "revisits": "avoid"}
    assert options["ppo"] == {"selection": "sample"} and options["expert"] == options["random"] == {}
    heldout = json.loads((config.out / "bench-heldout" / "bench_config.json").read_text())
    assert heldout["phrasings"] == "held_out" and set(results["bench_heldout"]["sets"]) == {"clip-rt", "bc"}
    bc_epochs = {
        n: json.loads((config.out / "models" / n / BC_CONFIG_FILE).read_text())["config"]["epochs"]
        for n in ("bc", "bc-pretrained")
    }
    assert bc_epochs == {"bc": 2, "bc-pretrained": 1}  # BC on the pretrained tower has its own (shorter) schedule
    saved = json.loads((config.out / "models" / "clip-rt" / "model" / "config.json").read_text())
    tuned = saved["model"]
    assert tuned["backbone"] == "CLIPRT-TinyConv" and tuned["fusion"] == "product"  # the checkpoint's, not the defaults
    assert saved["train"]["image_shift"] == config.clip_image_shift == DemoConfig(tmp_path).clip_image_shift > 0
    noise = DemoConfig(tmp_path).clip_instruction_noise
    assert saved["train"]["instruction_noise"] == config.clip_instruction_noise == noise > 0
    assert saved["train"]["mirror"] is config.mirror is DemoConfig(tmp_path).mirror is False
    again = run_demo(config)  # every stage is reused
    assert again["total_seconds_this_run"] < results["total_seconds_this_run"]
    with pytest.raises(ValueError, match="camera: 'wrist' -> 'front'"):
        run_demo(replace(config, camera="front"))


def test_smoke_config_is_small_and_keeps_every_stage(tmp_path):
    smoke, default = DemoConfig.smoke(tmp_path), DemoConfig(tmp_path)
    assert 1 <= len(smoke.tasks) <= 2 and smoke.demos_per_task <= 5 and smoke.eval_episodes <= 3
    assert smoke.num_envs <= 2 and smoke.clip_steps < default.clip_steps and smoke.ppo_steps < default.ppo_steps
    assert (
        smoke.sta_per_demo >= 1 and smoke.bc_epochs >= 1 and smoke.bc_pretrained_epochs >= 1
    )  # augmentation and every baseline still run
    assert not smoke.ablations and smoke.init == default.init and smoke.image_size == default.image_size


def test_the_main_job_labels_sta_with_the_expert_and_its_ablation_with_the_papers_heuristic(tmp_path):
    from cliprt.demo.layout import augmented_dirs
    from cliprt.demo.pipeline import agent_specs, other_labels, training_stages

    config = DemoConfig(tmp_path)
    assert config.sta_labels == "expert" and other_labels(config) == "heuristic"
    assert all(d.name.endswith("-sta-expert-v0") for d in augmented_dirs(config, config.sta_labels))
    ablated = replace(config, ablations=True)
    assert any(s.startswith("clip-rt-heuristic-sta:clip-rt=") for s in agent_specs(ablated))
    heuristic_stage = [s for s in training_stages(ablated) if s[0] == "train_clip-rt-heuristic-sta"]
    assert len(heuristic_stage) == 1 and heuristic_stage[0][-1] == "heuristic"
    assert other_labels(replace(config, sta_labels="heuristic")) == "expert"


def test_bad_benchmark_settings_fail_before_any_stage(tmp_path):
    with pytest.raises(ValueError, match="vector must be"):
        DemoConfig(tmp_path, vector="threads")
    assert DemoConfig(tmp_path).vector == "sync" and DemoConfig.full(tmp_path).vector == "async"


def test_fewer_training_samples_than_a_batch_trains_on_them_all(tmp_path):
    from cliprt.demo.pipeline import collect
    from cliprt.demo.training import train_clip_rt

    # cliprt demo --demos 1 used to stop with "lower --batch-size", an option demo does not have.
    config = replace(_tiny(tmp_path / "demo"), demos_per_task=1, clip_batch_size=64)  # from scratch (init None)
    collect(config)
    result = train_clip_rt(config, "clip-rt-passive", augmented=False)
    assert 2 <= result["batch_size"] == result["samples"] < 64
    assert (config.out / "models" / "clip-rt-passive" / "model" / "model.safetensors").is_file()


def test_too_few_training_samples_name_the_demo_option(tmp_path, monkeypatch):
    import cliprt.demo.training as training
    from cliprt_agents.synthetic import SyntheticMotionDataset

    monkeypatch.setattr(training, "training_dataset", lambda config, augmented, labels=None: SyntheticMotionDataset(1))
    with pytest.raises(ValueError, match=r"run with more --demos \(now 2\)"):
        training.train_clip_rt(_tiny(tmp_path / "demo"), "clip-rt", augmented=True)
    assert not (tmp_path / "demo" / "models").exists()


def _cliprt_command() -> list[str]:
    script = Path(sys.executable).with_name("cliprt")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cliprt.cli"]


@pytest.mark.slow
def test_smoke_demo_through_the_cli_with_a_relative_out(tmp_path):
    """`cliprt demo --smoke --out runs/demo-smoke` from a fresh folder: every stage, the results table and files."""
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    out = tmp_path / "runs" / "demo-smoke"
    cmd = [*_cliprt_command(), "demo", "--smoke", "--out", "runs/demo-smoke"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| expert |" in done.stdout and "finished in" in done.stdout
    assert json.loads((out / "demo_config.json").read_text())["tasks"] == list(DemoConfig.smoke(out).tasks)
    stages = {p.stem for p in (out / "stages").glob("*.json")}
    trained = {"train_clip_rt", "train_clip_rt_passive", "train_clip_rt_action", "train_bc", "train_bc_pretrained", "train_ppo"}
    assert stages == {"collect", "augment", *trained, "bench", "bench_heldout"}
    for name in ("bench/results.md", "bench/results.json", "bench/success.png", "demo_results.json"):
        assert (out / name).is_file(), name
    assert "| expert |" in (out / "bench" / "results.md").read_text()
    summary = json.loads((out / "bench" / "results.json").read_text())["summary"]
    assert {"expert", "random", "clip-rt", "clip-rt-passive", "clip-rt-zero", "bc", "bc-pretrained", "ppo"} <= set(summary)
    assert {p.name for p in (out / "models").iterdir()} >= {"clip-rt", "clip-rt-passive", "bc", "bc-pretrained", "ppo"}


def test_make_demo_smoke_passes_the_flag_and_keeps_the_plain_demo():
    make = shutil.which("make")
    assert make, "make runs the README's two commands; install it"
    root = Path(__file__).parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "SMOKE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}

    def dry_run(*args: str) -> str:
        cmd = [make, "-n", "-C", str(root), "demo", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        line = next(line for line in done.stdout.splitlines() if " demo" in line and "cliprt" in line)
        return " ".join(line.split())

    assert dry_run().endswith("cliprt demo --out runs/demo")
    assert dry_run("SMOKE=1").endswith("cliprt demo --smoke --out runs/demo-smoke")
    assert dry_run("SMOKE=1", "OUT=/tmp/elsewhere").endswith("cliprt demo --smoke --out /tmp/elsewhere")


def test_fewshot_trains_the_three_learners_on_novel_tasks_only(tmp_path, tiny_checkpoint):
    from cliprt.demo.fewshot import FEWSHOT_AGENTS, novel_tasks, run_fewshot

    assert len(novel_tasks()) >= 4
    base = replace(_tiny(tmp_path / "fewshot", init=tiny_checkpoint), tasks=("Stamp",))
    result = run_fewshot(base, demos=(1,))
    assert set(result["results"]) == set(FEWSHOT_AGENTS)
    assert "| clip-rt |" in result["table"] and (base.out / "fewshot.md").is_file()
    made = json.loads((base.out / "demos-1" / "demo_config.json").read_text())
    assert made["tasks"] == ["Stamp"] and made["demos_per_task"] == 1
    with pytest.raises(ValueError, match="--init"):
        run_fewshot(replace(base, init=None), demos=(1,))


def test_bad_selection_and_jobs_fail_before_any_stage(tmp_path, capsys):
    from cliprt.cli import main

    assert main(["demo", "--temperature", "0", "--out", str(tmp_path / "a")]) == 2
    assert "temperature must be a number > 0" in capsys.readouterr().err
    assert main(["demo", "--jobs", "0", "--out", str(tmp_path / "b")]) == 2
    assert "--jobs must be >= 1" in capsys.readouterr().err
    assert main(["demo", "--image-shift", "-1", "--out", str(tmp_path / "d")]) == 2
    assert "--image-shift must be >= 0" in capsys.readouterr().err and not (tmp_path / "d").exists()
    assert main(["demo", "--instruction-noise", "-0.5", "--out", str(tmp_path / "e")]) == 2
    assert "--instruction-noise must be >= 0" in capsys.readouterr().err and not (tmp_path / "e").exists()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="selection must be one of"):
        DemoConfig(tmp_path, selection="best")
    with pytest.raises(ValueError, match="revisits must be one of"):
        DemoConfig(tmp_path, revisits="never")
    with pytest.raises(SystemExit):
        main(["demo", "--revisits", "sometimes", "--out", str(tmp_path / "c")])
    assert "--revisits" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_learned_agents_take_the_jobs_selection_and_revisit_rule(tmp_path):
    from cliprt.demo.pipeline import agent_specs
    from cliprt_agents.registry import AgentSpec

    def options(config: DemoConfig) -> dict[str, dict]:
        return {a.label: dict(a.options) for a in map(AgentSpec.parse, agent_specs(config))}

    default = options(DemoConfig(tmp_path))
    learned = {"selection": "sample", "temperature": "0.3", "revisits": "avoid"}
    assert default["clip-rt-zero"] == default["bc-pretrained"] == learned
    assert default["ppo"] == {"selection": "sample"} and default["expert"] == {}
    plain = options(DemoConfig(tmp_path, selection="greedy", revisits="allow"))  # the paper's memoryless argmax
    assert plain["clip-rt"] == plain["bc"] == plain["ppo"] == {}
    assert options(DemoConfig(tmp_path, selection="greedy"))["clip-rt-passive"] == {"revisits": "avoid"}


def test_the_mirror_flag_reaches_the_job_and_a_folder_made_without_it_is_not_reused(tmp_path, capsys):
    import json
    from dataclasses import asdict

    from cliprt.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "demo_config.json").write_text(json.dumps(asdict(DemoConfig(out)), default=str))
    assert main(["demo", "--mirror", "--out", str(out)]) == 2
    assert "mirror: False -> True" in capsys.readouterr().err
    assert not (out / "stages").exists()
