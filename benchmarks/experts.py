"""Success rate of every sim task's scripted expert (and a rollout video).

python -m benchmarks.experts --episodes 100 --out runs/experts
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import cliprt_envs
from cliprt.evaluation.stats import wilson_interval
from cliprt_envs.language_env import expert_action
from cliprt_envs.registry import SIM_TASKS


def expert_episode(env: gym.Env, seed: int, frames: list | None = None) -> tuple[int, dict]:
    """Reset ``env`` with ``seed`` and let the scripted expert act until the episode ends.

    Returns the number of steps and the last info; every observed image is
    appended to ``frames`` when given. ``env`` may be wrapped (e.g. by a recorder).
    """
    obs, info = env.reset(seed=seed)
    if frames is not None:
        frames.append(obs["image"])
    steps, done = 0, False
    while not done:
        obs, _, term, trunc, info = env.step(expert_action(env))
        steps += 1
        done = term or trunc
        if frames is not None:
            frames.append(obs["image"])
    return steps, info


def run_expert(env_id: str, episodes: int, seed: int = 0, video: Path | None = None, image_size: int = 224) -> dict:
    env = gym.make(env_id, image_size=image_size)
    successes, steps, frames = 0, [], []
    start = time.perf_counter()
    total_steps = 0
    try:
        for ep in range(episodes):
            n, info = expert_episode(env, seed + ep, frames if video is not None and ep == 0 else None)
            total_steps += n
            if info["is_success"]:
                successes += 1
                steps.append(n)
    finally:
        env.close()
    elapsed = time.perf_counter() - start
    if video is not None and frames:
        import imageio.v2 as imageio

        video.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(video, frames, fps=4)
    lo, hi = wilson_interval(successes, episodes)
    return {
        "env_id": env_id,
        "episodes": episodes,
        "successes": successes,
        "success_rate": successes / episodes if episodes else 0.0,
        "ci95": [lo, hi],
        "mean_steps_to_success": float(np.mean(steps)) if steps else None,
        "steps_per_second": total_steps / elapsed if elapsed > 0 else 0.0,
    }


def format_table(rows: list[dict]) -> str:
    lines = [
        "| task | success | 95% CI | mean steps | env steps/s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ms = f"{r['mean_steps_to_success']:.1f}" if r["mean_steps_to_success"] is not None else "-"
        lines.append(
            f"| {r['env_id']} | {r['successes']}/{r['episodes']} ({100 * r['success_rate']:.0f}%) | "
            f"[{100 * r['ci95'][0]:.0f}, {100 * r['ci95'][1]:.0f}] | {ms} | {r['steps_per_second']:.0f} |"
        )
    return "\n".join(lines)


def run_all(episodes: int, out: Path | None, seed: int = 0, tasks: list[str] | None = None, progress: bool = True) -> list[dict]:
    ids = [e.env_id for e in SIM_TASKS if not tasks or e.name in tasks or e.env_id in tasks]
    if tasks and not ids:
        raise ValueError(f"no sim task matches {tasks}; see `cliprt envs`")
    rows = []
    for i, env_id in enumerate(ids):
        video = out / "videos" / f"{env_id}.mp4" if out is not None and i == 0 else None
        row = run_expert(env_id, episodes, seed=seed, video=video)
        rows.append(row)
        if progress:
            print(f"[{i + 1}/{len(ids)}] {env_id}: {row['successes']}/{episodes}", flush=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "experts.json").write_text(
            json.dumps({"cliprt": cliprt_envs.__version__, "seed": seed, "results": rows}, indent=2)
        )
        (out / "experts.md").write_text(format_table(rows) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="*", help="task names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/experts"))
    args = parser.parse_args(argv)
    rows = run_all(args.episodes, args.out, args.seed, args.tasks)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
