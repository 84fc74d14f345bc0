"""What limits CLIP-RT trained from scratch: the camera view, the number of demonstrations, STA.

python -m benchmarks.learnability --task PointTo --cameras front wrist --demos 10 200 --sta 0 10 --out runs/learnability

For every (camera, demos, STA trajectories per demo): scripted demonstrations
of one sim task are collected (scenes from reset seeds 0..N-1, so a smaller N
is a prefix of a larger one), optionally augmented, and a CLIP-RT model
(``--model``, ``--fusion``; CLIPRT-TinyConv with product fusion by default) is
trained for a fixed number of steps. Each model is scored by its top-1 motion
accuracy on demonstrations of other scenes (reset seeds from 10000) and by its
success on seeded benchmark episodes, with the same camera. Prints one table,
writes ``OUT/learnability.json``; finished cells are reused on a re-run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

TEST_SEED = 10_000


def _collect(env_id: str, camera: str, n: int, seed: int, image_size: int, out: Path) -> Path:
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    if not (out / "collect_report.json").exists():
        collect_demonstrations(CollectConfig(env_id, n, seed=seed, image_size=image_size, camera=camera), out, progress=False)
    return out


def held_out_accuracy(policy, dataset, batch: int = 64) -> float:
    """Top-1 agreement of ``policy`` with the recorded motion ids of ``dataset``."""
    import numpy as np

    items = [dataset[i] for i in range(len(dataset))]
    hits = 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        instructions = [it["instruction"] for it in chunk]
        policy.reset(instructions)
        actions = policy.act({"image": np.stack([it["image"] for it in chunk]), "instruction": instructions})
        hits += int((np.asarray(actions) == np.array([it["motion_id"] for it in chunk])).sum())
    return hits / max(1, len(items))


def run_cell(args: argparse.Namespace, env_id: str, camera: str, demos: int, sta: int) -> dict:
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.settings import BenchConfig
    from cliprt.evaluation.stats import summarize
    from cliprt_agents.config import ModelConfig, TrainConfig
    from cliprt_agents.policy import load_policy
    from cliprt_agents.registry import AgentSpec
    from cliprt_agents.train import train
    from cliprt_data.augment import STAConfig, augment_dataset
    from cliprt_data.datasets import load_training_dataset

    root = args.out / f"{camera}"
    name = f"{camera}-n{demos}-sta{sta}"
    marker = args.out / "cells" / f"{name}.json"
    if marker.exists():
        return json.loads(marker.read_text())
    start = time.perf_counter()
    if sta:
        data = _collect(env_id, camera, demos, 0, args.image_size, root / f"demos-n{demos}-v0")
        sta_dir = root / f"sta-n{demos}-x{sta}-v0"
        if not (sta_dir / "augment_report.json").exists():
            augment_dataset([data], sta_dir, STAConfig(per_demo=sta, seed=0), progress=False)
        dataset = load_training_dataset(sta_dir)
    else:
        data = _collect(env_id, camera, max(args.demos), 0, args.image_size, root / "demos-v0")
        dataset = load_training_dataset(data).subset(list(range(demos)))
    test = load_training_dataset(_collect(env_id, camera, args.test_demos, TEST_SEED, args.image_size, root / "test-v0"))
    model_dir = args.out / "models" / name
    result = train(
        ModelConfig(backbone=args.model, fusion=args.fusion),
        TrainConfig(
            epochs=10**6,
            max_steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            warmup_steps=min(100, args.steps // 10),
            val_every=args.steps,
            checkpoint_every=args.steps,
            num_workers=0,
            seed=0,
            progress=False,
        ),
        dataset,
        model_dir,
    )
    accuracy = held_out_accuracy(load_policy(model_dir), test)
    bench = BenchConfig(
        env_ids=(env_id,), episodes=args.episodes, seeds=(1,), num_envs=args.num_envs, image_size=args.image_size, camera=camera
    )
    rows = run_benchmark(bench, [AgentSpec.parse(f"{name}:clip-rt={model_dir}")], args.out / "bench" / name, progress=False)
    summary = summarize(rows)[name]["tasks"][env_id]
    cell = {
        "camera": camera,
        "demos": demos,
        "sta_per_demo": sta,
        "train_items": len(dataset),
        "steps": result.step,
        "held_out_accuracy": accuracy,
        "successes": summary["successes"],
        "episodes": summary["episodes"],
        "success_ci": summary["ci95"],
        "seconds": time.perf_counter() - start,
    }
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(cell, indent=2))
    return cell


def main(argv: list[str] | None = None) -> int:
    from cliprt_agents.config import TINY_CONV_MODEL
    from cliprt_envs.registry import sim_task_entry

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="PointTo")
    p.add_argument("--cameras", nargs="+", default=["front", "wrist"])
    p.add_argument("--demos", type=int, nargs="+", default=[10, 200])
    p.add_argument("--sta", type=int, nargs="+", default=[0], help="STA trajectories per demo (0: demos only)")
    p.add_argument("--test-demos", type=int, default=20)
    p.add_argument("--model", default=TINY_CONV_MODEL)
    p.add_argument("--fusion", default="product", choices=("sum", "product"))
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--num-envs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/learnability"))
    args = p.parse_args(argv)
    env_id = sim_task_entry(args.task).env_id
    cells = [
        run_cell(args, env_id, camera, demos, sta) for camera, demos, sta in itertools.product(args.cameras, args.demos, args.sta)
    ]
    report = {"task": args.task, "args": {**vars(args), "out": str(args.out)}, "cells": cells}
    (args.out / "learnability.json").write_text(json.dumps(report, indent=2))
    print(f"{args.task}: CLIP-RT ({args.model}, {args.fusion} fusion, {args.steps} steps) per camera, demos and STA")
    print("| camera | demos | STA/demo | train items | held-out accuracy | success | 95% CI |")
    print("|---|---|---|---|---|---|---|")
    for c in cells:
        lo, hi = c["success_ci"]
        print(
            f"| {c['camera']} | {c['demos']} | {c['sta_per_demo']} | {c['train_items']} | {c['held_out_accuracy']:.2f} "
            f"| {c['successes']}/{c['episodes']} | {100 * lo:.0f}-{100 * hi:.0f}% |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
