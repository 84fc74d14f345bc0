"""``cliprt bench run`` and ``cliprt bench compare``."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmark agents on envs; compare runs")
    bsub = bench.add_subparsers(dest="bench_command", metavar="ACTION")
    bsub.required = True
    run = bsub.add_parser("run", help="run agents x envs x seeds x episodes")
    run.add_argument("--suite", type=Path, help="a suite file (TOML/JSON); flags below override it")
    run.add_argument(
        "--env", action="append", dest="envs", metavar="ID", help="env id (repeatable; 'all-sim' for every sim task)"
    )
    run.add_argument(
        "--agent",
        action="append",
        dest="agents",
        metavar="SPEC",
        help="agent spec: random, expert, KIND=CHECKPOINT or LABEL:KIND=CHECKPOINT (repeatable)",
    )
    run.add_argument("--episodes", type=int)
    run.add_argument("--seeds", type=int, nargs="+")
    run.add_argument("--num-envs", type=int)
    run.add_argument("--image-size", type=int)
    run.add_argument("--camera", help="the view agents see, e.g. front, side or wrist in the sim (default: the env's)")
    run.add_argument("--out", type=Path, required=True, help="results folder")
    run.add_argument("--no-resume", action="store_true", help="start over instead of skipping finished episodes")
    run.add_argument("--quiet", action="store_true")
    run.set_defaults(func=cmd_run)
    cmp_ = bsub.add_parser("compare", help="differences between two result folders")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    cmp_.set_defaults(func=cmd_compare)


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.agents import AgentSpec
    from benchmarks.report import markdown_table, write_reports
    from benchmarks.runner import BenchConfig, run_benchmark
    from benchmarks.suite import expand_env_ids, load_suite

    if args.suite:
        config, agents = load_suite(args.suite)
    else:
        if not args.envs or not args.agents:
            raise ValueError("give --suite FILE, or at least one --env and one --agent")
        config, agents = BenchConfig(env_ids=expand_env_ids(args.envs)), []
    if args.envs and args.suite:
        config = replace(config, env_ids=expand_env_ids(args.envs))
    if args.agents:
        agents = [AgentSpec.parse(a) for a in args.agents]
    overrides = {
        "episodes": args.episodes,
        "num_envs": args.num_envs,
        "image_size": args.image_size,
        "camera": args.camera,
        "seeds": tuple(args.seeds) if args.seeds else None,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    rows = run_benchmark(config, agents, args.out, resume=not args.no_resume, progress=not args.quiet)
    labels = {a.label for a in agents}
    rows = [r for r in rows if r["agent"] in labels and r["env_id"] in config.env_ids]
    summary = write_reports(args.out, rows, asdict(config), {a.label: a.checkpoint for a in agents})
    print(markdown_table(summary))
    print(f"\nresults: {args.out}/results.json, results.csv, results.md, success.png, videos/")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmarks.report import compare, load_summary

    print(compare(load_summary(args.a), load_summary(args.b), str(args.a), str(args.b)))
    return 0
