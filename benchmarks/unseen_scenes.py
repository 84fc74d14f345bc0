"""Scenes the benchmark never shows: closed-loop success on the Common tasks with renamed colours and extra objects.

Each Common benchmark scene holds the same objects every episode (Pick's cube
is always red, its cylinder green, and nothing else is on the table), so a
policy can pass the benchmark while "red" only ever means "the cube", or
while it only knows where to go because nothing else is there. This runs
each model on the Common tasks over the same held-out seeds under each
condition (``--conditions``, :mod:`cliprt_envs.sim.scenes`; ``cliprt bench run
--scene`` runs the same conditions with the full runner):

- ``benchmark``: the scenes as the benchmark shows them;
- ``renamed_colours``: the scene's six colours renamed one-to-one into the
  ten-colour palette of :mod:`cliprt_envs.sim.colours` at every reset
  (``SceneVariation`` with only ``recolour=1``; the instruction's colour
  words follow the paint). A policy that reads colours as hues keeps its
  success; one that memorised the benchmark's objects loses it;
- ``unseen_colours``: the same renaming into six colours no dataset of this
  project shows or names (magenta, lime, navy, grey, teal, maroon): every
  colour word is new, so only what the text tower knows of colours carries
  over;
- ``extra_objects``: up to four objects of shapes no instruction names
  (balls, capsules, eggs, bars of random sizes and colours) also on the
  table, clear of where the expert works (only ``clutter=4``;
  :mod:`cliprt_envs.sim.clutter`). The expert's success is unchanged by
  them; a policy that looks for "the only thing there" is not.

Nothing else about the scene changes.

    python -m benchmarks.unseen_scenes --models shipped=cliprt-ur5sim-v6 --episodes 20
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401  (registers the ids)
from benchmarks.model_study import parse_models, study_parser
from cliprt.evaluation.stats import wilson_interval
from cliprt_envs.registry import COMMON_TASKS
from cliprt_envs.seeds import bench_reset_seed
from cliprt_envs.sim.scenes import SCENES, scene_sim_config


def successes(policy, task: str, condition: str, episodes: int, camera: str, size: int, seed: int) -> int:
    """Episodes of ``task`` the policy succeeds in (one env, the task's step limit)."""
    env = gym.make(f"CLIPRT-UR5Sim-{task}-v0", image_size=size, camera=camera, sim_config=scene_sim_config(condition))
    won = 0
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=bench_reset_seed(seed, episode))
            policy.reset([obs["instruction"]])
            done = False
            while not done:
                motion = int(np.asarray(policy.act({"image": obs["image"][None], "instruction": [obs["instruction"]]}))[0])
                obs, _, terminated, truncated, info = env.step(motion)
                done = terminated or truncated
            won += bool(info.get("is_success"))
    finally:
        env.close()
    return won


def main() -> None:
    tasks = tuple(t.name for t in COMMON_TASKS)
    parser = study_parser(
        __doc__.splitlines()[0], tasks=tasks, episodes=20, seed=7, episodes_help="episodes per task and condition"
    )
    parser.add_argument("--conditions", nargs="+", choices=tuple(SCENES), default=tuple(SCENES), help="scene conditions to run")
    parser.add_argument("--temperature", type=float, default=0.3, help="motions drawn from softmax(logits / T); 0: greedy")
    args = parser.parse_args()
    import torch

    from cliprt_agents.policy import load_policy

    torch.set_num_threads(1)
    selection = {"selection": "greedy"} if args.temperature <= 0 else {"selection": "sample", "temperature": args.temperature}
    rows: dict[str, dict[str, dict[str, int]]] = {}
    for name, path in parse_models(args.models).items():
        policy = load_policy(path, device="cpu", seed=args.seed, **selection)
        rows[name] = {}
        for condition in args.conditions:
            rows[name][condition] = {
                task: successes(policy, task, condition, args.episodes, args.camera, args.image_size, args.seed)
                for task in args.tasks
            }
    n = args.episodes * len(args.tasks)
    print(f"| model | {' | '.join(args.conditions)} |")
    print("|---" * (len(args.conditions) + 1) + "|")
    for name, by_condition in rows.items():
        cells = []
        for condition in args.conditions:
            won = sum(by_condition[condition].values())
            lo, hi = wilson_interval(won, n)
            cells.append(f"{100 * won / n:.1f} [{100 * lo:.0f}-{100 * hi:.0f}]")
        print(f"| {name} | {' | '.join(cells)} |")
    for name, by_condition in rows.items():
        print(f"\n{name}, successes of {args.episodes} per task:")
        for condition in args.conditions:
            print(f"  {condition}: " + ", ".join(f"{t} {k}" for t, k in by_condition[condition].items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
