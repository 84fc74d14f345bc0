"""How much a CLIP-RT model loses on instruction phrasings it never saw, at the same states.

For each task (the Common ones unless ``--tasks`` names others) and held-out
benchmark seed, the scripted expert runs an episode; at every state each model
picks a motion twice: for the task's training phrasing of the instruction and
for a held-out phrasing of the same request (the same seed reset with
``phrasings="held_out"`` gives the same scene and target). Step accuracy is
agreement with the expert's motion there.

    python -m benchmarks.text_tower_phrasings --models own=runs/own minilm=runs/minilm --episodes 10
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401  (registers the ids)
from benchmarks.model_study import load_policies, study_parser
from cliprt.evaluation.stats import wilson_interval
from cliprt_envs.language_env import expert_action
from cliprt_envs.registry import COMMON_TASKS
from cliprt_envs.seeds import bench_reset_seed


def task_counts(policies: dict, task: str, episodes: int, camera: str, size: int, seed: int) -> dict[str, list[int]]:
    """Per model: [hits with training phrasings, hits with held-out phrasings, states]."""
    env_id = f"CLIPRT-UR5Sim-{task}-v0"
    env = gym.make(env_id, image_size=size, camera=camera)
    held = gym.make(env_id, image_size=size, camera=camera, phrasings="held_out")
    counts = {name: [0, 0, 0] for name in policies}
    try:
        for episode in range(episodes):
            reset_seed = bench_reset_seed(seed, episode)
            obs, _ = env.reset(seed=reset_seed)
            other, _ = held.reset(seed=reset_seed)
            instructions = [obs["instruction"], other["instruction"]]
            for policy in policies.values():
                policy.reset(instructions)
            done = False
            while not done:
                motion = expert_action(env)
                batch = {"image": np.stack([obs["image"], obs["image"]]), "instruction": instructions}
                for name, policy in policies.items():
                    picks = np.asarray(policy.act(batch)).reshape(-1)
                    counts[name][0] += int(picks[0] == motion)
                    counts[name][1] += int(picks[1] == motion)
                    counts[name][2] += 1
                obs, _, terminated, truncated, _ = env.step(motion)
                done = terminated or truncated
    finally:
        env.close()
        held.close()
    return counts


def main() -> None:
    parser = study_parser(
        __doc__.splitlines()[0],
        tasks=[e.name for e in COMMON_TASKS],
        episodes=10,
        seed=1,
        episodes_help="expert episodes per task",
    )
    args = parser.parse_args()
    policies = load_policies(args.models)
    totals = {name: [0, 0, 0] for name in policies}
    rows = {}
    for task in args.tasks:
        counts = task_counts(policies, task, args.episodes, args.camera, args.image_size, args.seed)
        rows[task] = counts
        for name, (a, b, n) in counts.items():
            totals[name] = [t + c for t, c in zip(totals[name], (a, b, n))]
        line = "  ".join(f"{name} {a / n:.2f}/{b / n:.2f}" for name, (a, b, n) in counts.items())
        print(f"{task:12s} (train/held-out phrasing step accuracy)  {line}", flush=True)
    print("\n| model | step accuracy, training phrasings | held-out phrasings | drop (points) | states |")
    print("|---|---|---|---|---|")
    for name, (a, b, n) in totals.items():
        lo_a, hi_a = wilson_interval(a, n)
        lo_b, hi_b = wilson_interval(b, n)
        print(
            f"| {name} | {100 * a / n:.1f} [{100 * lo_a:.0f}-{100 * hi_a:.0f}] | "
            f"{100 * b / n:.1f} [{100 * lo_b:.0f}-{100 * hi_b:.0f}] | {100 * (a - b) / n:.1f} | {n} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"per_task": rows, "total": totals}, indent=2))


if __name__ == "__main__":
    main()
