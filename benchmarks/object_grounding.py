"""Does a policy go to the object the instruction names? The same scene, each object named in turn.

For each task whose scenes hold several nameable objects and held-out
benchmark seed, the scene is reset once; then every object of the scene is
named in turn (the instruction with the target's name swapped, nothing else)
and the scripted expert gives its first motion for that object. A policy that
reads the name agrees with the expert for the *named* object; one that does
not agrees as often with the expert for another object, and gives the same
motion whichever object is named.

    python -m benchmarks.object_grounding --models shipped=cliprt-ur5sim-v6 --episodes 30
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401  (registers the ids)
from benchmarks.model_study import load_policies, study_parser
from cliprt_envs.seeds import bench_reset_seed

#: Tasks whose target is one of the scene's objects, named by its label alone in the instruction.
#: (KnockOver's first motion is the same whichever object is named, so it tells nothing here.)
DEFAULT_TASKS = ("Pick", "PointTo", "Place")


def named_in_turn(env: gym.Env, instruction: str) -> tuple[list[str], list[int]]:
    """The instruction naming each object of the scene in turn, and the expert's first motion for each."""
    task = env.unwrapped.task
    original = task.target
    label = task.target_item.label
    instructions, motions = [], []
    try:
        for index, item in enumerate(task.items):
            if item.label != label and item.label in instruction:
                continue  # the object already has another part in the instruction (a plate, a base)
            task.target = index
            instructions.append(instruction.replace(label, item.label))
            motions.append(env.unwrapped.expert_action())
    finally:
        task.target = original
    return instructions, motions


def task_counts(policies: dict, task: str, episodes: int, camera: str, size: int, seed: int) -> dict[str, list[float]]:
    """Per model (and ``"expert"``): [agreements with the named object's expert, mean agreement with another
    object's, distinct motions per scene, asks]."""
    env = gym.make(f"CLIPRT-UR5Sim-{task}-v0", image_size=size, camera=camera)
    counts = {name: [0.0, 0.0, 0.0, 0] for name in (*policies, "expert")}
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=bench_reset_seed(seed, episode))
            instructions, motions = named_in_turn(env, obs["instruction"])
            counts["expert"][2] += len(set(motions))
            batch = {"image": np.stack([obs["image"]] * len(instructions)), "instruction": instructions}
            for name, policy in policies.items():
                policy.reset(instructions)
                picks = np.asarray(policy.act(batch)).reshape(-1)
                for i, motion in enumerate(motions):
                    others = [m for j, m in enumerate(motions) if j != i and m != motion]
                    counts[name][0] += float(picks[i] == motion)
                    counts[name][1] += float(np.mean([picks[i] == m for m in others])) if others else 0.0
                    counts[name][3] += 1
                counts[name][2] += len(set(picks.tolist()))
    finally:
        env.close()
    return counts


def main() -> None:
    parser = study_parser(__doc__.splitlines()[0], tasks=DEFAULT_TASKS, episodes=30, seed=7, episodes_help="scenes per task")
    args = parser.parse_args()
    policies = load_policies(args.models)
    rows = {task: task_counts(policies, task, args.episodes, args.camera, args.image_size, args.seed) for task in args.tasks}
    print("| model | task | agrees with the named object's expert % | with another object's % | distinct motions per scene |")
    print("|---|---|---|---|---|")
    for task, counts in rows.items():
        for name in policies:
            named, other, distinct, asks = counts[name]
            print(f"| {name} | {task} | {100 * named / asks:.1f} | {100 * other / asks:.1f} | {distinct / args.episodes:.2f} |")
        print(f"| expert | {task} | | | {counts['expert'][2] / args.episodes:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
