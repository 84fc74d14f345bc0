"""The main job: teach the sim robot with language, end to end.

    collect   10 demonstrations per task (Common and Novel), spoken by the
              scripted language user and translated back to motions (the
              path a person's words take)
    augment   3 stochastic-trajectory-augmentation (STA) trajectories per demo,
              every state labelled by the scripted expert (``sta_labels``)
    train     CLIP-RT fine-tuned from the shipped pretrained checkpoint on
              demos + STA (one multi-task policy); baselines on the same data:
              CLIP-RT-Passive (no STA), CLIP-RT-Action (motions as learned
              tokens, same start), CLIP-RT-Zero (the checkpoint as it ships),
              BC (a CNN from scratch, and from the checkpoint's image tower),
              PPO (stable-baselines3, task reward)
    bench     every agent on held-out seeded episodes of every task; Common
              and Novel means with 95% Wilson intervals

Each stage writes ``<out>/stages/<name>.json`` when it finishes; running the
same command again skips finished stages (and the training and benchmark
stages resume inside themselves), so an interrupted demo loses little.
``--ablations`` adds CLIP-RT trained on STA with the other labels (the paper's).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cliprt.demo.layout import demo_dir, sta_dir
from cliprt.demo.side_by_side import side_by_side
from cliprt.demo.training import train_bc_baseline, train_clip_rt, train_ppo_baseline
from cliprt_envs.registry import SIM_TASKS

#: Benchmarks use init-state seed 1 (reset seeds 1_000_000+, cliprt_envs.seeds); collection uses reset(seed=0..).
EVAL_SEED = 1

#: The pretrained checkpoint shipped with the package that CLIP-RT starts from.
SHIPPED_CHECKPOINT = "cliprt-ur5sim-v6"


@dataclass(frozen=True)
class DemoConfig:
    out: Path
    tasks: tuple[str, ...] = field(default_factory=lambda: tuple(e.name for e in SIM_TASKS))
    demos_per_task: int = 10
    sta_per_demo: int = 3
    # STA's labels: "expert" relabels every STA state with the scripted expert (the sim has one); "heuristic" is the
    # paper's (the motion STA executes), which disagrees with the expert at 35-50% of the states and pulls CLIP-RT
    # below the checkpoint it starts from (README, The main job). --ablations trains CLIP-RT on the other labels.
    sta_labels: str = "expert"
    image_size: int = 64
    camera: str = "wrist"  # the view every agent sees (and the data records); the checkpoint was pretrained on it
    init: str | None = SHIPPED_CHECKPOINT  # CLIP-RT's start; None: from scratch with backbone/pretrained/fusion
    backbone: str = "CLIPRT-TinyConv"
    pretrained: str | None = None
    fusion: str = "product"
    # 1500 steps with every training image shifted by up to 4 pixels (DrQ): without the shift, fine-tuning longer than
    # 300 steps memorises the demonstrations' scenes; with it, longer fine-tuning carries over to new scenes (README,
    # the levers table under `make fewshot`: 38.7% on the Novel tasks' validation seeds against 23.8% for 300 steps
    # without it). The shift needs the longer run: 300 steps with it gave 13.1%. In the main job it lifted CLIP-RT on
    # the Novel tasks from 16.2% to 30.0% and cost held-out phrasings on the Common tasks (75.0% -> 61.3%).
    clip_steps: int = 1500
    clip_image_shift: int = 4
    # Noise on the instruction's embedding (TrainConfig.instruction_noise) against the longer fine-tuning's fit to the
    # training phrasings: on validation seeds, held-out phrasings on the Common tasks 70.0 and 73.1% against 63.1 and
    # 63.7% without it (two training seeds); in the main job 60.6% against 61.3%, and 71.2% against 78.8% in the
    # training phrasings, inside the intervals (README).
    clip_instruction_noise: float = 0.6
    # Train CLIP-RT, its variants and both BCs also on every sample mirrored left-right (TrainConfig.mirror). Off:
    # on the Novel tasks' validation seeds it gave 31.2 and 35.0% against 28.7 and 33.1% without (training seeds 0
    # and 1), inside one run's spread, and the Common tasks were level (README, the levers table).
    mirror: bool = False
    clip_batch_size: int = 64
    clip_lr: float = 1e-4
    bc_epochs: int = 15
    # BC on the checkpoint's image tower converges sooner: 10 epochs reached validation accuracy 0.72 (15: 0.74) and
    # the same success (12.1% vs 12.5% mean over the 12 tasks, the main job's episodes) in two thirds of the time.
    bc_pretrained_epochs: int = 10
    ppo_steps: int = 4096
    eval_episodes: int = 20
    num_envs: int = 2
    # Benchmark episodes per task and agent that may be filmed while a success or failure video is missing
    # (videos are for people; drawing them is a third of the benchmark's time at 10).
    video_episodes: int = 3
    # How every learned agent (CLIP-RT and its variants, BC, PPO) picks a motion in the benchmark: "sample" draws
    # from softmax(logits / temperature) (cliprt_agents.selection; chosen with benchmarks/selection_temperature.py
    # on validation seeds), "greedy" takes the best.
    selection: str = "sample"
    temperature: float = 0.3
    # "avoid": CLIP-RT and BC never take again a motion they already took from the same arm state in an episode
    # (cliprt_agents.revisits; measured in the README, Training and running CLIP-RT); "allow": the paper's memoryless policy.
    revisits: str = "avoid"
    # Processes for stages that do not depend on each other (augmenting tasks, training the agents) and
    # benchmark workers; results do not depend on it.
    jobs: int = 2
    # How each benchmark worker steps its num_envs envs: "sync" in its own process (on 2 cores 15% faster than a
    # process per env, with the same episodes), "async" a process each (for machines with many cores: --full).
    vector: str = "sync"
    ablations: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        from cliprt_agents.revisits import revisit_memory
        from cliprt_agents.selection import MotionSelection

        MotionSelection(self.selection, self.temperature)  # a bad choice fails now, not after the training stages
        revisit_memory(self.revisits)
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {self.jobs}")
        bench_config(self)  # the benchmark's settings (vector, episodes, envs) fail now too

    @classmethod
    def full(cls, out: Path) -> DemoConfig:
        """The larger protocol for machines with a GPU (more demonstrations, steps and episodes)."""
        return cls(
            out,
            demos_per_task=20,
            clip_steps=2000,
            clip_batch_size=128,
            bc_epochs=60,
            bc_pretrained_epochs=60,
            ppo_steps=200_000,
            eval_episodes=50,
            num_envs=8,
            vector="async",
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
            clip_steps=4,
            clip_batch_size=16,
            bc_epochs=2,
            bc_pretrained_epochs=2,
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


def collect(config: DemoConfig) -> dict:
    import shutil

    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    reports = {}
    for task, env_id in zip(config.tasks, config.env_ids):
        out = demo_dir(config, task)
        if out.exists():  # a half-written folder from an interrupted run: collect it again
            shutil.rmtree(out)
        cfg = CollectConfig(env_id, config.demos_per_task, seed=config.seed, image_size=config.image_size, camera=config.camera)
        reports[task] = collect_demonstrations(cfg, out, progress=True)
    return {"reports": reports}


def augment(config: DemoConfig, labels: str | None = None) -> dict:
    """STA for every task (``config.jobs`` tasks at once)."""
    labels = labels or config.sta_labels
    calls = [(augment_task, (config, task, labels)) for task in config.tasks]
    return {"reports": dict(zip(config.tasks, side_by_side(calls, config.jobs))), "labels": labels}


def augment_task(config: DemoConfig, task: str, labels: str) -> dict:
    """STA trajectories of one task's demonstrations (a half-written folder is made again)."""
    import shutil

    from cliprt_data.augment import STAConfig, augment_dataset

    out = sta_dir(config, task, labels)
    if out.exists():
        shutil.rmtree(out)
    sta = STAConfig(per_demo=config.sta_per_demo, seed=config.seed, labels=labels)
    return augment_dataset([demo_dir(config, task)], out, sta, progress=True)


def agent_specs(config: DemoConfig) -> list[str]:
    """``label:kind=checkpoint[?options]`` of every agent the main job benchmarks (learned ones with its selection
    and, for CLIP-RT and BC, its revisit rule)."""
    models = config.out / "models"
    specs = [f"clip-rt:clip-rt={models / 'clip-rt'}", f"clip-rt-passive:clip-rt={models / 'clip-rt-passive'}"]
    if config.init is not None:
        specs += [f"clip-rt-action:clip-rt={models / 'clip-rt-action'}", f"clip-rt-zero:clip-rt={config.init}"]
    specs += [f"bc:bc={models / 'bc'}"]
    if config.init is not None:
        specs.append(f"bc-pretrained:bc={models / 'bc-pretrained'}")
    if config.ablations:
        name = f"clip-rt-{other_labels(config)}-sta"
        specs.append(f"{name}:clip-rt={models / name}")
    options = {}
    if config.selection != "greedy":
        options.update(selection=config.selection, temperature=f"{config.temperature:g}")
    if config.revisits != "allow":
        options["revisits"] = config.revisits
    specs = [f"{s}?{'&'.join(f'{k}={v}' for k, v in options.items())}" if options else s for s in specs]
    ppo = f"ppo:ppo={models / 'ppo'}" + ("?selection=sample" if config.selection != "greedy" else "")  # PPO: its own draw
    return ["expert", "random", *specs, ppo]


def other_labels(config: DemoConfig) -> str:
    """The STA labelling the ablation compares with the main job's."""
    return "expert" if config.sta_labels == "heuristic" else "heuristic"


def task_sets(config: DemoConfig) -> dict[str, list[str]]:
    """The main job's env ids grouped into Common and Novel tasks (a set with none of its tasks is left out)."""
    from cliprt_envs.registry import sim_task_entry

    sets: dict[str, list[str]] = {}
    for task, env_id in zip(config.tasks, config.env_ids):
        kind = sim_task_entry(task).task_set
        sets.setdefault(kind.capitalize(), []).append(env_id)
    return sets


def bench_config(config: DemoConfig, **overrides: Any) -> Any:
    """The benchmark settings of the main job (its env ids, episodes, seed, view), with ``overrides``."""
    from cliprt.evaluation.settings import BenchConfig

    settings = {
        "env_ids": config.env_ids,
        "episodes": config.eval_episodes,
        "seeds": (EVAL_SEED,),
        "num_envs": config.num_envs,
        "workers": config.jobs,
        "vector": config.vector,
        "video_episodes": config.video_episodes,
        "image_size": config.image_size,
        "camera": config.camera,
        **overrides,
    }
    return BenchConfig(**settings)


def bench(config: DemoConfig) -> dict:
    from cliprt.evaluation.report import markdown_table, write_reports
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.stats import set_summary, set_table
    from cliprt_agents.registry import AgentSpec

    bench_cfg = bench_config(config, trace=True)
    agents = [AgentSpec.parse(s) for s in agent_specs(config)]
    out = config.out / "bench"
    rows = run_benchmark(bench_cfg, agents, out)
    summary = write_reports(out, rows, asdict(bench_cfg), {a.label: a.checkpoint for a in agents})
    sets = set_summary(rows, task_sets(config))
    (out / "task_sets.json").write_text(json.dumps(sets, indent=2))
    return {
        "table": markdown_table(summary),
        "sets_table": set_table(sets),
        "mean_success": {a: s["overall"]["mean_task_success_rate"] for a, s in summary.items()},
        "sets": sets,
    }


#: Agents also benchmarked on held-out phrasings (instructions worded as in no dataset).
HELDOUT_AGENTS = ("clip-rt", "bc")


def bench_heldout(config: DemoConfig) -> dict:
    """CLIP-RT and BC on the same episodes, instructions in held-out phrasings (tasks that have them)."""
    from cliprt.evaluation.report import write_reports
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.stats import set_summary, set_table
    from cliprt_agents.registry import AgentSpec
    from cliprt_envs.registry import sim_task_entry

    env_ids = tuple(e for t, e in zip(config.tasks, config.env_ids) if sim_task_entry(t).task_class.heldout_templates)
    if not env_ids:
        return {"sets": {}, "sets_table": ""}
    bench_cfg = bench_config(config, env_ids=env_ids, phrasings="held_out", video_episodes=0)
    agents = [a for a in map(AgentSpec.parse, agent_specs(config)) if a.label in HELDOUT_AGENTS]
    rows = run_benchmark(bench_cfg, agents, config.out / "bench-heldout")
    write_reports(config.out / "bench-heldout", rows, asdict(bench_cfg), {a.label: a.checkpoint for a in agents})
    sets = set_summary(rows, {k: [e for e in v if e in env_ids] for k, v in task_sets(config).items()})
    return {"sets": sets, "sets_table": set_table(sets)}


def run_demo(config: DemoConfig) -> dict:
    """All stages in order; returns the per-stage results."""
    config.out.mkdir(parents=True, exist_ok=True)
    check_resumable(config)
    (config.out / "demo_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
    start = time.perf_counter()
    results = {
        "collect": _stage(config, "collect", collect, config),
        "augment": _stage(config, "augment", augment, config),
    }
    if config.ablations:
        other = other_labels(config)
        results[f"augment_{other}"] = _stage(config, f"augment_{other}", augment, config, other)
    results.update(run_stages(config, training_stages(config)))
    results["bench"] = _stage(config, "bench_ablations" if config.ablations else "bench", bench, config)
    results["bench_heldout"] = _stage(config, "bench_heldout", bench_heldout, config)
    results["total_seconds_this_run"] = time.perf_counter() - start
    return results


def training_stages(config: DemoConfig) -> list[tuple]:
    """``(stage name, function, *args)`` of every agent the main job trains, the longest first."""
    stages: list[tuple] = []
    if config.init is not None:
        stages.append(("train_bc_pretrained", train_bc_baseline, config, "bc-pretrained", config.init))
    stages += [
        ("train_bc", train_bc_baseline, config),
        ("train_clip_rt", train_clip_rt, config, "clip-rt", True),
        ("train_clip_rt_passive", train_clip_rt, config, "clip-rt-passive", False),
    ]
    if config.init is not None:
        stages.append(("train_clip_rt_action", train_clip_rt, config, "clip-rt-action", True, "action_tokens"))
    stages.append(("train_ppo", train_ppo_baseline, config))
    if config.ablations:
        name = f"clip-rt-{other_labels(config)}-sta"
        stages.append((f"train_{name}", train_clip_rt, config, name, True, "language", other_labels(config)))
    return stages


def run_stages(config: DemoConfig, stages: list[tuple]) -> dict[str, dict]:
    """Stages that do not depend on each other, ``config.jobs`` at once; ``{name: result}``."""
    calls = [(_stage, (config, name, fn, *args)) for name, fn, *args in stages]
    return dict(zip((name for name, *_ in stages), side_by_side(calls, config.jobs)))


def check_resumable(config: DemoConfig) -> None:
    """Refuse to resume a folder whose finished stages were made with other settings (``ablations`` may change)."""
    previous_file = config.out / "demo_config.json"
    if not previous_file.exists():
        return
    from cliprt.evaluation.settings import settings_differences

    previous = json.loads(previous_file.read_text())
    defaults = asdict(DemoConfig(config.out))
    ignore = ("out", "ablations", "jobs", "video_episodes", "vector")  # none changes a result
    differ = settings_differences(previous, asdict(config), ignore=ignore, defaults=defaults)
    if differ:
        changes = ", ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in differ)
        raise ValueError(
            f"{config.out} holds a demo run made with other settings ({changes}); "
            "use another --out, or delete the folder to start over"
        )


def with_overrides(config: DemoConfig, **kw: Any) -> DemoConfig:
    return replace(config, **{k: v for k, v in kw.items() if v is not None})
