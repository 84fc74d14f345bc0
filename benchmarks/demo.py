"""``cliprt demo``: the main job (see :mod:`benchmarks.pipeline`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="teach the sim robot with language end to end: collect, augment, train, benchmark")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (re-run to resume)")
    p.add_argument("--full", action="store_true", help="the larger protocol (more data and episodes, ViT-B-32) for GPUs")
    p.add_argument("--ablations", action="store_true", help="also train and benchmark CLIP-RT-Action")
    p.add_argument("--tasks", nargs="+", help="task names (default: every sim task)")
    p.add_argument("--demos", type=int, help="demonstrations per task (default 10)")
    p.add_argument("--episodes", type=int, help="benchmark episodes per task and agent (default 10)")
    p.add_argument("--clip-epochs", type=int, help="CLIP-RT training epochs")
    p.add_argument("--ppo-steps", type=int, help="PPO environment steps")
    p.add_argument(
        "--camera", choices=("front", "side", "wrist"), help="the view recorded and seen by every agent (default front)"
    )
    p.add_argument("--fusion", choices=("sum", "product"), help="CLIP-RT context: the paper's sum (default) or sum + product")
    p.add_argument("--model", help="CLIP-RT backbone (default CLIPRT-Tiny; CLIPRT-TinyConv has a CNN image tower)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import json
    import time

    from benchmarks.pipeline import DemoConfig, run_demo, with_overrides

    for name in ("demos", "episodes", "clip_epochs", "ppo_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    config = DemoConfig.full(args.out) if args.full else DemoConfig(args.out)
    config = with_overrides(
        config,
        demos_per_task=args.demos,
        eval_episodes=args.episodes,
        clip_epochs=args.clip_epochs,
        ppo_steps=args.ppo_steps,
        tasks=tuple(args.tasks) if args.tasks else None,
        ablations=True if args.ablations else None,
        camera=args.camera,
        fusion=args.fusion,
        backbone=args.model,
    )
    start = time.perf_counter()
    results = run_demo(config)
    print()
    print(results["bench"]["table"])
    elapsed = time.perf_counter() - start
    (config.out / "demo_results.json").write_text(json.dumps(results, indent=2, default=str))
    print(
        f"\nfinished in {elapsed / 60:.1f} min; everything is in {config.out}/ "
        "(bench/results.md, bench/success.png, bench/videos/, models/, data/)"
    )
    return 0
