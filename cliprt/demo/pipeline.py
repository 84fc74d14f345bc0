"""The main job: teach the sim robot with language, end to end.

    collect   10 demonstrations per task, spoken by the scripted language user
              and translated back to motions (the path a person's words take)
    augment   3 stochastic-trajectory-augmentation (STA) trajectories per demo
    train     CLIP-RT on demos + STA (one multi-task policy); baselines:
              CLIP-RT-Passive (demos only), behaviour cloning (small CNN),
              PPO (stable-baselines3, task reward); CLIP-RT-Action in ablations
    bench     every agent on held-out seeded episodes of every task

Each stage writes ``<out>/stages/<name>.json`` when it finishes; running the
same command again skips finished stages (and the training and benchmark
stages resume inside themselves), so an interrupted demo loses little.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cliprt_envs.registry import SIM_TASKS

#: Benchmarks use init-state seed 1 (indices 1_000_000+); collection uses reset(seed=0..).
EVAL_SEED = 1


@dataclass(frozen=True)
class DemoConfig:
    out: Path
    tasks: tuple[str, ...] = field(default_factory=lambda: tuple(e.name for e in SIM_TASKS))
    demos_per_task: int = 10
    sta_per_demo: int = 3
    image_size: int = 64
    camera: str = "front"  # the view every agent sees (and the data records)
    backbone: str = "CLIPRT-Tiny"
    pretrained: str | None = None
    fusion: str = "sum"  # the paper's; "product" can choose objects by name (ModelConfig.fusion)
    clip_epochs: int = 8
    clip_batch_size: int = 64
    clip_lr: float = 5e-4
    bc_epochs: int = 15
    ppo_steps: int = 4096
    eval_episodes: int = 10
    num_envs: int = 2
    ablations: bool = False
    seed: int = 0

    @classmethod
    def full(cls, out: Path) -> DemoConfig:
        """The larger protocol for machines with a GPU."""
        return cls(
            out,
            demos_per_task=20,
            image_size=224,
            backbone="ViT-B-32",
            clip_epochs=50,
            clip_batch_size=128,
            clip_lr=1e-4,
            bc_epochs=60,
            ppo_steps=200_000,
            eval_episodes=50,
            num_envs=8,
            ablations=True,
        )

    @classmethod
    def smoke(cls, out: Path) -> DemoConfig:
        """Every stage at a tiny scale, to check that the whole job runs (about a minute on 2 CPU cores).

        Two tasks, 3 demonstrations each, a few training steps and 2 benchmark
        episodes per task and agent: its success rates mean nothing.
        """
        return cls(
            out,
            tasks=("PointTo", "Pick"),
            demos_per_task=3,
            sta_per_demo=1,
            clip_epochs=2,
            clip_batch_size=16,
            bc_epochs=2,
            ppo_steps=256,
            eval_episodes=2,
            num_envs=2,
        )

    @property
    def env_ids(self) -> tuple[str, ...]:
        from cliprt_envs.registry import sim_task_entry

        return tuple(sim_task_entry(t).env_id for t in self.tasks)


def _stage(config: DemoConfig, name: str, fn, *args: Any) -> dict:
    marker = config.out / "stages" / f"{name}.json"
    if marker.exists():
        result = json.loads(marker.read_text())
        print(f"[{name}] done before ({result.get('seconds', 0):.0f} s); skipping", flush=True)
        return result
    print(f"[{name}] ...", flush=True)
    start = time.perf_counter()
    result = dict(fn(*args) or {})
    result["seconds"] = time.perf_counter() - start
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(result, indent=2, default=str))
    print(f"[{name}] finished in {result['seconds']:.0f} s", flush=True)
    return result


def _demo_dir(config: DemoConfig, task: str) -> Path:
    return config.out / "data" / f"{task.lower()}-demos-v0"


def _sta_dir(config: DemoConfig, task: str) -> Path:
    return config.out / "data" / f"{task.lower()}-sta-v0"


def collect(config: DemoConfig) -> dict:
    import shutil

    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    reports = {}
    for task, env_id in zip(config.tasks, config.env_ids):
        out = _demo_dir(config, task)
        if out.exists():  # a half-written folder from an interrupted run: collect it again
            shutil.rmtree(out)
        cfg = CollectConfig(env_id, config.demos_per_task, seed=config.seed, image_size=config.image_size, camera=config.camera)
        reports[task] = collect_demonstrations(cfg, out, progress=True)
    return {"reports": reports}


def augment(config: DemoConfig) -> dict:
    import shutil

    from cliprt_data.augment import STAConfig, augment_dataset

    reports = {}
    for task in config.tasks:
        out = _sta_dir(config, task)
        if out.exists():
            shutil.rmtree(out)
        reports[task] = augment_dataset(
            [_demo_dir(config, task)], out, STAConfig(per_demo=config.sta_per_demo, seed=config.seed), progress=True
        )
    return {"reports": reports}


def _dataset(config: DemoConfig, augmented: bool):
    from cliprt_data.datasets import load_training_dataset

    dirs = [(_sta_dir if augmented else _demo_dir)(config, t) for t in config.tasks]
    return load_training_dataset(dirs)


def train_clip_rt(config: DemoConfig, name: str, augmented: bool, variant: str = "language") -> dict:
    from cliprt_agents.config import ModelConfig, TrainConfig
    from cliprt_agents.data import split_by_episode
    from cliprt_agents.train import train

    dataset = _dataset(config, augmented)
    model_cfg = ModelConfig(backbone=config.backbone, pretrained=config.pretrained, variant=variant, fusion=config.fusion)
    # With few demonstrations the training split can be smaller than one batch: take it all as the batch.
    val_fraction = TrainConfig.val_fraction
    n_train = len(split_by_episode(dataset, val_fraction, config.seed)[0])
    batch_size = min(config.clip_batch_size, n_train)
    if batch_size < 2:
        raise ValueError(
            f"{name} has {n_train} training sample(s), too few to train on (its loss compares samples within a batch); "
            f"run with more --demos (now {config.demos_per_task})"
        )
    steps_per_epoch = max(1, n_train // batch_size)
    train_cfg = TrainConfig(
        epochs=config.clip_epochs,
        batch_size=batch_size,
        lr=config.clip_lr,
        warmup_steps=min(100, steps_per_epoch),
        val_fraction=val_fraction,
        val_every=steps_per_epoch * 5,
        checkpoint_every=steps_per_epoch * 2,
        num_workers=0,
        seed=config.seed,
    )
    result = train(model_cfg, train_cfg, dataset, config.out / "models" / name)
    return {
        "samples": len(dataset),
        "batch_size": batch_size,
        "result": asdict(result) if hasattr(result, "__dataclass_fields__") else str(result),
    }


def train_bc_baseline(config: DemoConfig) -> dict:
    from cliprt_agents.baselines.bc import BCConfig, train_bc
    from cliprt_envs.motions import default_vocabulary

    dataset = _dataset(config, augmented=True)
    metrics = train_bc(
        dataset,
        default_vocabulary(),
        BCConfig(image_size=config.image_size, epochs=config.bc_epochs, seed=config.seed),
        config.out / "models" / "bc",
    )
    return {"samples": len(dataset), "best_val_accuracy": metrics["best"]}


def train_ppo_baseline(config: DemoConfig) -> dict:
    from cliprt_agents.baselines.ppo import PPOConfig, train_ppo

    cfg = PPOConfig(
        env_ids=config.env_ids,
        total_timesteps=config.ppo_steps,
        n_envs=config.num_envs,
        render_size=config.image_size,
        image_size=config.image_size,
        camera=config.camera,
        seed=config.seed,
    )
    train_ppo(cfg, config.out / "models" / "ppo")
    return {"timesteps": config.ppo_steps}


def agent_specs(config: DemoConfig) -> list[str]:
    models = config.out / "models"
    specs = [
        "expert",
        "random",
        f"clip-rt:clip-rt={models / 'clip-rt'}",
        f"clip-rt-passive:clip-rt={models / 'clip-rt-passive'}",
        f"bc:bc={models / 'bc'}",
        f"ppo:ppo={models / 'ppo'}",
    ]
    if config.ablations:
        specs.append(f"clip-rt-action:clip-rt={models / 'clip-rt-action'}")
    return specs


def bench(config: DemoConfig) -> dict:
    from cliprt.evaluation.report import markdown_table, write_reports
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.settings import BenchConfig
    from cliprt_agents.registry import AgentSpec

    bench_cfg = BenchConfig(
        env_ids=config.env_ids,
        episodes=config.eval_episodes,
        seeds=(EVAL_SEED,),
        num_envs=config.num_envs,
        image_size=config.image_size,
        camera=config.camera,
    )
    agents = [AgentSpec.parse(s) for s in agent_specs(config)]
    out = config.out / "bench"
    rows = run_benchmark(bench_cfg, agents, out)
    summary = write_reports(out, rows, asdict(bench_cfg), {a.label: a.checkpoint for a in agents})
    return {
        "table": markdown_table(summary),
        "mean_success": {a: s["overall"]["mean_task_success_rate"] for a, s in summary.items()},
    }


def run_demo(config: DemoConfig) -> dict:
    """All stages in order; returns the per-stage results."""
    config.out.mkdir(parents=True, exist_ok=True)
    check_resumable(config)
    (config.out / "demo_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
    start = time.perf_counter()
    results = {
        "collect": _stage(config, "collect", collect, config),
        "augment": _stage(config, "augment", augment, config),
        "train_clip_rt": _stage(config, "train_clip_rt", train_clip_rt, config, "clip-rt", True),
        "train_clip_rt_passive": _stage(config, "train_clip_rt_passive", train_clip_rt, config, "clip-rt-passive", False),
        "train_bc": _stage(config, "train_bc", train_bc_baseline, config),
        "train_ppo": _stage(config, "train_ppo", train_ppo_baseline, config),
    }
    if config.ablations:
        results["train_clip_rt_action"] = _stage(
            config, "train_clip_rt_action", train_clip_rt, config, "clip-rt-action", True, "action_tokens"
        )
    results["bench"] = _stage(config, "bench_ablations" if config.ablations else "bench", bench, config)
    results["total_seconds_this_run"] = time.perf_counter() - start
    return results


def check_resumable(config: DemoConfig) -> None:
    """Refuse to resume a folder whose finished stages were made with other settings (``ablations`` may change)."""
    previous_file = config.out / "demo_config.json"
    if not previous_file.exists():
        return
    from cliprt.evaluation.settings import settings_differences

    previous = json.loads(previous_file.read_text())
    defaults = asdict(DemoConfig(config.out))
    differ = settings_differences(previous, asdict(config), ignore=("out", "ablations"), defaults=defaults)
    if differ:
        changes = ", ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in differ)
        raise ValueError(
            f"{config.out} holds a demo run made with other settings ({changes}); "
            "use another --out, or delete the folder to start over"
        )


def with_overrides(config: DemoConfig, **kw: Any) -> DemoConfig:
    return replace(config, **{k: v for k, v in kw.items() if v is not None})
