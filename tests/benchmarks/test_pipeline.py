"""The main job (cliprt demo) end to end on one task with tiny settings, and its resume rules."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from benchmarks.pipeline import DemoConfig, run_demo


def _tiny(out) -> DemoConfig:
    return DemoConfig(
        out,
        tasks=("PointTo",),
        demos_per_task=2,
        sta_per_demo=1,
        image_size=40,
        clip_epochs=1,
        clip_batch_size=8,
        bc_epochs=1,
        ppo_steps=128,
        eval_episodes=1,
        num_envs=1,
    )


def test_demo_end_to_end_then_resume_and_refuse_other_settings(tmp_path):
    config = _tiny(tmp_path / "demo")
    results = run_demo(config)
    summary = json.loads((config.out / "bench" / "results.json").read_text())["summary"]
    assert {"expert", "random", "clip-rt", "clip-rt-passive", "bc", "ppo"} <= set(summary)
    assert "| expert |" in results["bench"]["table"]
    assert (config.out / "bench" / "success.png").is_file()
    stages = {p.stem for p in (config.out / "stages").glob("*.json")}
    assert {"collect", "augment", "train_clip_rt", "train_clip_rt_passive", "train_bc", "train_ppo", "bench"} <= stages
    again = run_demo(config)  # every stage is reused
    assert again["total_seconds_this_run"] < results["total_seconds_this_run"]
    with pytest.raises(ValueError, match="camera: 'front' -> 'wrist'"):
        run_demo(replace(config, camera="wrist"))
