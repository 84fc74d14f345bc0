"""Where a benchmark step's time goes: the arm's physics, the agent's camera, the policy, tracing, videos.

    python -m benchmarks.bench_step_cost [--agent clip-rt=cliprt-ur5sim-v6] [--tasks Pick Push] [--episodes 6]

Runs the real benchmark runner in this process (one worker, a sync vector env
of 2, the main job's view: wrist camera, 64 px, traced, videos of the first 3
episodes) under cProfile, and prints the share of the run's time spent in
each part, and its milliseconds per env step (one motion of one env). The
parts are cumulative times of the functions that do the work (none calls
another); "other" is the rest: resets, agent loading, the vector env and the
runner's own bookkeeping (torch, open_clip and GL are set up before the
profiled run).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

#: ``(part, file suffix, function name)``: the cumulative time of that function counts as the part.
PARTS = (
    ("arm physics (motion: IK plan, waypoints, settling)", "cliprt_envs/sim/backend.py", "move"),
    ("agent camera (render, 64 px)", "cliprt_envs/language_env.py", "_observe"),
    ("policy (act)", "cliprt_agents/policy.py", "act"),
    ("trace: the policy's scores", "cliprt/evaluation/trace.py", "score"),
    ("trace: the expert's motion at each state", "cliprt/evaluation/trace.py", "expert_motion"),
    ("video frames (render for people, compose)", "cliprt_envs/language_env.py", "render"),
    ("video files (encode, write)", "cliprt/evaluation/videos.py", "write_video"),
)


def profile_run(agent: str, tasks: list[str], episodes: int, out: Path) -> tuple[pstats.Stats, float, int]:
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.settings import BenchConfig
    from cliprt_agents.registry import AgentSpec

    config = BenchConfig(
        env_ids=tuple(f"CLIPRT-UR5Sim-{t}-v0" for t in tasks),
        episodes=episodes,
        seeds=(1,),
        num_envs=2,
        workers=1,
        vector="sync",
        video_episodes=3,
        image_size=64,
        camera="wrist",
        trace=True,
    )
    spec = AgentSpec.parse(agent)
    warm_up(spec, config)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    rows = profiler.runcall(run_benchmark, config, [spec], out, progress=False)
    wall = time.perf_counter() - start
    return pstats.Stats(profiler), wall, sum(int(r["steps"]) for r in rows)


def warm_up(spec, config) -> None:
    """Import and initialise what the run needs once (torch, open_clip, GL), so that "other" is not import time."""
    import gymnasium as gym

    from cliprt.evaluation.runner import default_agent_factory

    default_agent_factory(spec, 0)
    env = gym.make(config.env_ids[0], image_size=config.image_size, camera=config.camera)
    env.reset(seed=0)
    env.close()


def part_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each part's function (the outermost call only, as cProfile counts it)."""
    seconds = dict.fromkeys((name for name, *_ in PARTS), 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for name, suffix, wanted in PARTS:
            if function == wanted and filename.endswith(suffix):
                seconds[name] += cumulative
    return seconds


def main() -> None:
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT, DemoConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The main job's CLIP-RT start and motion selection, declared once in DemoConfig.
    main_job_agent = f"clip-rt={SHIPPED_CHECKPOINT}?selection={DemoConfig.selection}&temperature={DemoConfig.temperature}"
    parser.add_argument("--agent", default=main_job_agent)
    parser.add_argument("--tasks", nargs="+", default=["Pick", "Push"])
    parser.add_argument("--episodes", type=int, default=6, help="episodes per task (default: 6)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stats, wall, steps = profile_run(args.agent, args.tasks, args.episodes, Path(tmp))
    parts = part_seconds(stats)
    print(
        f"{args.agent} on {', '.join(args.tasks)}: {steps} env steps in {wall:.1f} s ({1e3 * wall / max(1, steps):.1f} ms each)"
    )
    print("| part | share of the run | ms per env step |")
    print("|---|---|---|")
    for name, seconds in parts.items():
        print(f"| {name} | {seconds / wall:.0%} | {1e3 * seconds / max(1, steps):.2f} |")
    other = max(0.0, wall - sum(parts.values()))
    print(f"| other (resets, loading, bookkeeping) | {other / wall:.0%} | {1e3 * other / max(1, steps):.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"wall_s": wall, "steps": steps, "parts_s": parts}, indent=2))


if __name__ == "__main__":
    main()
