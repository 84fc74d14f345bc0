"""Greedy vs sampled motion selection for one checkpoint, on validation seeds the main job never uses.

A greedy policy that is wrong in a state repeats the same motion while the
state looks the same; drawing from ``softmax(logits / T)`` leaves such loops.
This runs the checkpoint on every sim task with ``greedy`` and with
``selection=sample`` at each temperature (the same scenes for all), through the
benchmark runner, and prints success per task set with 95% Wilson intervals.
With ``--revisits allow avoid`` each selection also runs with
``revisits=avoid`` (:mod:`cliprt_agents.revisits`: never take again a motion
already taken from the same arm state in the episode). The main job's
temperature and revisit rule were chosen with it.

    python -m benchmarks.selection_temperature --agent runs/demo/models/clip-rt --episodes 20
    python -m benchmarks.selection_temperature --agent cliprt-ur5sim-v6 --kind clip-rt --temperatures 0.3 1
    python -m benchmarks.selection_temperature --agent runs/demo/models/clip-rt --temperatures 0.3 --revisits allow avoid
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt.evaluation.runner import run_benchmark
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.stats import wilson_interval
from cliprt_agents.registry import AgentSpec
from cliprt_agents.revisits import REVISIT_MODES
from cliprt_envs.registry import COMMON_TASKS, NOVEL_TASKS

#: Validation seed: the main job benchmarks seed 1 (cliprt.demo.pipeline.EVAL_SEED).
VALIDATION_SEED = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", required=True, help="a checkpoint (run dir, model dir or shipped name)")
    parser.add_argument("--kind", default="clip-rt", choices=("clip-rt", "bc"), help="agent kind of the checkpoint")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.1, 0.3, 0.5, 1.0])
    parser.add_argument(
        "--revisits", nargs="+", choices=REVISIT_MODES, default=["allow"], help="revisit rules to run each selection with"
    )
    parser.add_argument("--episodes", type=int, default=20, help="episodes per task and selection")
    parser.add_argument("--seed", type=int, default=VALIDATION_SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the benchmark folder here (default: a temporary one, deleted)")
    args = parser.parse_args()

    selections = {"greedy": {}, **{f"T{t:g}": {"selection": "sample", "temperature": f"{t:g}"} for t in args.temperatures}}
    specs = [
        AgentSpec(name, args.kind, args.agent, options)
        if rule == "allow"
        else AgentSpec(f"{name}-{rule}", args.kind, args.agent, {**options, "revisits": rule})
        for rule in dict.fromkeys(args.revisits)
        for name, options in selections.items()
    ]
    sets = {"Common": [e.env_id for e in COMMON_TASKS], "Novel": [e.env_id for e in NOVEL_TASKS]}
    config = BenchConfig(
        env_ids=tuple(sets["Common"] + sets["Novel"]),
        episodes=args.episodes,
        seeds=(args.seed,),
        image_size=64,
        camera="wrist",
        video_episodes=0,
        workers=args.workers,
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_benchmark(config, specs, args.out or Path(tmp), progress=False)
    print(f"{len(rows)} episodes in {time.perf_counter() - start:.0f} s ({args.agent}, seed {args.seed})\n")
    print("| selection | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for spec in specs:
        cells = []
        for env_ids in sets.values():
            mine = [r for r in rows if r["agent"] == spec.label and r["env_id"] in env_ids]
            wins = sum(bool(r["success"]) for r in mine)
            lo, hi = wilson_interval(wins, len(mine))
            cells.append(f"{100 * wins / max(1, len(mine)):.1f} [{100 * lo:.0f}-{100 * hi:.0f}]")
        print(f"| {spec.label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
