"""A policy in its own demonstrations' scenes and in new ones: did it learn what it was shown, and does it carry over?

For each demonstration dataset (one folder per task, e.g. the main job's
``runs/demo/data/<task>-demos-v0``) this rebuilds the env the dataset was
recorded in, replays the scene of every recorded episode (reset with that
episode's own seed) and as many new scenes of the same task (benchmark seed
``--seed``, whose init states no dataset holds), runs the agent closed loop in
each and prints success on both with 95% Wilson intervals. High on its own
scenes and low on new ones: the policy learned its demonstrations, not the
task; low on both: it did not learn them.

    python -m benchmarks.demo_scenes --agent "clip-rt=runs/demo/models/clip-rt?selection=sample&temperature=0.3" \\
        --data runs/demo/data/stamp-demos-v0 runs/demo/data/stack-demos-v0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import gymnasium as gym

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt.evaluation.stats import wilson_interval
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_data.storage import check_dataset
from cliprt_envs.seeds import bench_reset_seed

#: New scenes come from this benchmark seed's init states (the main job benchmarks seed 1).
VALIDATION_SEED = 7


def run_episode(env: gym.Env, agent: Any, reset: dict[str, Any]) -> bool:
    """One closed-loop episode from ``env.reset(**reset)``; True on success."""
    obs, _ = env.reset(**reset)
    agent.reset(obs["instruction"])
    while True:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        if terminated or truncated:
            return bool(info.get("is_success"))


def scene_successes(agent: Any, data: Path, seed: int) -> dict[str, Any]:
    """Successes in the dataset's own scenes and in as many new ones of its env."""
    info = check_dataset(data, deep=False)
    seeds = [e["seed"] for e in info.episodes if e.get("seed") is not None]
    if not seeds:
        raise SystemExit(f"{data}: its episodes record no reset seed, so their scenes cannot be replayed")
    kwargs = {k: v for k, v in info.metadata.get("env_kwargs", {}).items() if k != "task"}
    env = gym.make(info.metadata["env_id"], **kwargs)
    try:
        own = sum(run_episode(env, agent, {"seed": int(s)}) for s in seeds)
        new = sum(
            run_episode(env, agent, {"options": {"init_state_index": bench_reset_seed(seed, e)}}) for e in range(len(seeds))
        )
    finally:
        env.close()
    return {"env_id": info.metadata["env_id"], "episodes": len(seeds), "own": own, "new": new}


def _cell(won: int, n: int) -> str:
    lo, hi = wilson_interval(won, n)
    return f"{100 * won / max(1, n):.1f} [{100 * lo:.0f}-{100 * hi:.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", required=True, help="an agent spec, e.g. clip-rt=PATH?selection=sample&temperature=0.3")
    parser.add_argument("--data", nargs="+", type=Path, required=True, help="demonstration dataset folders, one per task")
    parser.add_argument("--seed", type=int, default=VALIDATION_SEED, help="benchmark seed of the new scenes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    import torch

    from cliprt_envs.motions import default_vocabulary

    torch.set_num_threads(1)
    try:  # a bad spec or folder is a message, not a traceback
        agent = make_agent(AgentSpec.parse(args.agent), default_vocabulary(), seed=args.seed)
        rows = [scene_successes(agent, data, args.seed) for data in args.data]
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"demo_scenes: {error}") from None
    print(f"{args.agent}: success % [95% Wilson] in its demonstrations' scenes and in new ones\n")
    print("| env | episodes | own scenes | new scenes |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['env_id']} | {r['episodes']} | {_cell(r['own'], r['episodes'])} | {_cell(r['new'], r['episodes'])} |")
    n = sum(r["episodes"] for r in rows)
    print(f"| all | {n} | {_cell(sum(r['own'] for r in rows), n)} | {_cell(sum(r['new'] for r in rows), n)} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
