"""``cliprt bench run``, ``cliprt bench report`` and ``cliprt bench compare``."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path

from cliprt_envs.sim.scenes import SCENES

RUN_DESCRIPTION = """\
Run every agent on every env id: for each seed S, episodes 0..N-1 start from
init-state S * 1_000_000 + episode, so all agents face the same scenes.

Resume and extend: every finished episode is stored in OUT/episodes.jsonl at
once. Running again into the same --out skips finished episodes, and may add
agents, env ids, seeds or episodes. OUT/bench_config.json records what the
episodes were made with (image size, camera, each env's registration and step
limit, each agent's kind and checkpoint hash); a run with other values is
refused with the settings that differ. Use another --out, or --no-resume to
start over. --num-envs, --workers and the video options may change between runs.

Results: results.json (with provenance), results.csv, results.md, success.png
and videos/ (one success and one failure per agent and task where they occur,
drawn at --video-size from --video-camera, with the instruction and each
motion written under the picture).

--trace also records every step in OUT/traces.jsonl (the policy's motion and its
top-3 scores, the scripted expert's motion at the same state, clamps, IK failures,
unchanged and revisited states); the reports then say where episodes go wrong.
"""

REPORT_DESCRIPTION = """\
Write a results folder's reports again from all its episodes (results.json,
results.csv, results.md, success.png) and print the success table. Where episodes
were traced (bench run --trace), also per agent and task: step accuracy against
the scripted expert at the same state, the median step of the first divergence
from it, the share of steps that changed nothing or came back to an earlier state,
failed episodes ending in such a loop, and the share of steps clamped to the
workspace or failing inverse kinematics.
"""


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmark agents on envs; compare runs")
    bsub = bench.add_subparsers(dest="bench_command", metavar="ACTION")
    bsub.required = True
    _register_run(bsub)
    _register_report(bsub)
    _register_compare(bsub)


def _register_run(bsub: argparse._SubParsersAction) -> None:
    run = bsub.add_parser(
        "run",
        help="run agents x envs x seeds x episodes",
        description=RUN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--suite",
        metavar="FILE|NAME",
        help="a suite file (TOML/JSON), or the name of one shipped with cliprt (sim); the flags below override it",
    )
    run.add_argument(
        "--env", action="append", dest="envs", metavar="ID", help="env id (repeatable; 'all-sim' for every sim task)"
    )
    run.add_argument(
        "--agent",
        action="append",
        dest="agents",
        metavar="SPEC",
        help="agent spec: random, expert, KIND=CHECKPOINT or LABEL:KIND=CHECKPOINT (repeatable); learned agents take "
        "options, e.g. clip-rt=CKPT?selection=sample&temperature=0.3&revisits=avoid (bc= too; clip-rt= also "
        "mirror=average; ppo= takes selection)",
    )
    _add_setting_flags(run)
    _add_condition_flags(run)
    _add_video_flags(run)
    run.add_argument("--out", type=Path, required=True, help="results folder (created; an existing one is resumed or extended)")
    run.add_argument("--no-resume", action="store_true", help="delete the folder's episodes, settings and videos and start over")
    run.add_argument("--quiet", action="store_true", help="no progress bars (the results table is still printed)")
    run.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        help="record every step in OUT/traces.jsonl and report where episodes go wrong "
        "(default: off, or the suite's); changes no outcome, may change between runs",
    )
    run.set_defaults(func=cmd_run)


def _add_setting_flags(run: argparse.ArgumentParser) -> None:
    """The BenchConfig flags that decide what the agents see and how long episodes last."""
    run.add_argument(
        "--episodes", type=int, metavar="N", help="episodes per seed, agent and env id (default: 10, or the suite's)"
    )
    run.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="S",
        help="init-state seeds; each gives its own N scenes (default: 0, or the suite's)",
    )
    run.add_argument(
        "--num-envs",
        type=int,
        metavar="N",
        help="envs stepped side by side in worker processes (default: 2, or the suite's); may change between runs",
    )
    run.add_argument(
        "--workers",
        type=int,
        metavar="W",
        help="benchmark processes sharing out the work (one agent on one env id at a time), each with --num-envs envs "
        "(default: 1, or the suite's); "
        "on a machine with more cores than --num-envs uses, 2 or more finish sooner; outcomes do not change",
    )
    run.add_argument(
        "--image-size", type=int, metavar="PX", help="the square image the agents see, in pixels (default: 224, or the suite's)"
    )
    run.add_argument("--camera", help="the view agents see, e.g. front, side or wrist in the sim (default: the env's)")
    run.add_argument("--max-steps", type=int, metavar="N", help="cut episodes off after N steps (default: each env's limit)")
    run.add_argument(
        "--corrections",
        type=int,
        metavar="K",
        help="a simulated person corrects at most K steps per episode in words where the policy's motion is not the "
        "scripted expert's (through the translator; default: 0)",
    )
    run.add_argument(
        "--scorer",
        choices=("none", "vlm"),
        help="vlm: a vision-language model re-weights the policy's top motions each step "
        "(CLIPRT_LLM_URL, CLIPRT_LLM_MODEL, CLIPRT_LLM_API_KEY; default: none)",
    )
    run.add_argument(
        "--robot-config",
        metavar="FILE",
        help="a real robot's config (YAML/TOML), e.g. with --env CLIPRT-UR5-v0 --max-steps 30 --num-envs 1",
    )


def _add_condition_flags(run: argparse.ArgumentParser) -> None:
    """The BenchConfig flags for words and scenes the agents never trained on."""
    run.add_argument(
        "--phrasings",
        choices=("train", "held_out"),
        help="held_out: instructions in phrasings kept out of every dataset (default: train)",
    )
    run.add_argument(
        "--scene",
        choices=tuple(SCENES),
        help="the twin's scenes as registered (benchmark), or a condition they never show: renamed_colours (every "
        "colour renamed, the instruction following), unseen_colours (renamed into colour words no data uses) or "
        "extra_objects (up to four more objects on the table) (default: benchmark)",
    )


def _add_video_flags(run: argparse.ArgumentParser) -> None:
    """The flags for the videos people see (they may change between runs)."""
    run.add_argument(
        "--video-size",
        type=int,
        metavar="PX",
        help="the picture people see in the videos, in pixels (default: 256, or the suite's)",
    )
    run.add_argument(
        "--video-camera", metavar="NAME", help="the view people see in the videos (default: the env's, front in the sim)"
    )
    run.add_argument(
        "--video-episodes",
        type=int,
        metavar="N",
        help="record among episodes 0..N-1 of each seed until an agent and task has a success and a failure video; "
        "0: no videos (default: 10, or the suite's)",
    )


def _register_report(bsub: argparse._SubParsersAction) -> None:
    report = bsub.add_parser(
        "report",
        help="a results folder's reports again, with where traced episodes go wrong",
        description=REPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("out", type=Path, metavar="OUT", help="results folder of `cliprt bench run`")
    report.set_defaults(func=cmd_report)


def _register_compare(bsub: argparse._SubParsersAction) -> None:
    cmp_ = bsub.add_parser(
        "compare",
        help="differences between two result folders",
        description="Success of each agent and task present in both runs, the difference in percentage points, "
        "and whether their 95% Wilson intervals overlap (if not, the difference is significant).",
    )
    cmp_.add_argument("a", type=Path, metavar="A", help="first results folder (or its results.json)")
    cmp_.add_argument("b", type=Path, metavar="B", help="second results folder (or its results.json)")
    cmp_.set_defaults(func=cmd_compare)


#: BenchConfig field -> the flag that sets it
FLAGS = {
    "episodes": "--episodes",
    "num_envs": "--num-envs",
    "workers": "--workers",
    "image_size": "--image-size",
    "camera": "--camera",
    "seeds": "--seeds",
    "max_steps": "--max-steps",
    "phrasings": "--phrasings",
    "scene": "--scene",
    "video_size": "--video-size",
    "video_camera": "--video-camera",
    "video_episodes": "--video-episodes",
    "trace": "--trace",
    "corrections": "--corrections",
    "scorer": "--scorer",
    "robot_config": "--robot-config",
}


def cmd_run(args: argparse.Namespace) -> int:
    from cliprt.evaluation.report import markdown_table, write_reports
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.settings import BenchConfig, check_setting
    from cliprt.evaluation.suite import expand_env_ids, load_suite
    from cliprt_agents.registry import AgentSpec

    overrides = {key: getattr(args, key) for key in FLAGS}
    if overrides["seeds"] is not None:
        overrides["seeds"] = tuple(overrides["seeds"])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides.get("robot_config") is not None:
        overrides.setdefault("num_envs", 1)  # one real robot: one env, one process
    for key, value in overrides.items():  # name the flag, not the field, in errors
        check_setting(key, value, FLAGS[key])
    if args.suite:
        config, agents = load_suite(args.suite)
    else:
        if not args.envs or not args.agents:
            raise ValueError("give --suite FILE, or at least one --env and one --agent")
        config, agents = BenchConfig(env_ids=expand_env_ids(args.envs), **overrides), []
    if args.envs and args.suite:
        config = replace(config, env_ids=expand_env_ids(args.envs))
    if args.agents:
        agents = [AgentSpec.parse(a) for a in args.agents]
    config = replace(config, **overrides)
    rows = run_benchmark(config, agents, args.out, resume=not args.no_resume, progress=not args.quiet)
    summary = write_reports(args.out, rows, asdict(config), {a.label: a.checkpoint for a in agents})
    print(markdown_table(summary))
    if config.corrections:
        _print_corrections(rows)
    if config.trace:
        _print_trace(args.out, rows)
    print(f"\nresults: {args.out}/results.json, results.csv, results.md, success.png, videos/")
    return 0


def _print_corrections(rows: list[dict]) -> None:
    """Spoken corrections per agent and task (``--corrections``): mean per episode, and success."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["agent"], r["env_id"]), []).append(r)
    print("\ncorrections per episode (simulated person):")
    for (agent, env_id), rs in sorted(groups.items()):
        mean = sum(r.get("corrections", 0) for r in rs) / len(rs)
        wins = sum(r["success"] for r in rs)
        print(f"  {agent} on {env_id}: {mean:.2f} corrections per episode, {wins}/{len(rs)} successes")


def _print_trace(out: Path, rows: list[dict]) -> None:
    from cliprt.evaluation.trace_summary import summarize_traces, trace_table, traces_of

    trace = summarize_traces(traces_of(out, rows))
    if trace:
        print("\n" + trace_table(trace))


def cmd_report(args: argparse.Namespace) -> int:
    from cliprt.evaluation.report import markdown_table, rewrite_reports
    from cliprt.evaluation.trace_summary import trace_table

    summary, trace = rewrite_reports(args.out)
    print(markdown_table(summary))
    print("\n" + trace_table(trace) if trace else "\nno traced episodes (run `cliprt bench run --trace` to record them)")
    print(f"\nresults: {args.out}/results.json, results.csv, results.md, success.png")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from cliprt.evaluation.report import compare, load_summary

    print(compare(load_summary(args.a), load_summary(args.b), str(args.a), str(args.b)))
    return 0
