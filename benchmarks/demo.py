"""``cliprt demo``: the main job.

Until the full pipeline (collect -> augment -> train -> benchmark) lands, the
main job benchmarks every sim task's scripted expert: a success table and one
rollout video under ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job end to end")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    p.add_argument("--episodes", type=int, default=20, help="episodes per task")
    p.add_argument("--seed", type=int, default=1000, help="first episode seed (held out)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from benchmarks.experts import format_table, run_all

    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    rows = run_all(args.episodes, args.out, seed=args.seed)
    print(format_table(rows))
    print(f"\nresults and a rollout video are in {args.out}/")
    return 0
