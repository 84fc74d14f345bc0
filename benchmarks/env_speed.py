"""Motion steps per second of the sim env, and its overhead over bare MuJoCo work.

    python -m benchmarks.env_speed [--steps 300] [--size 224] [--cores 1]

For each task, the scripted expert drives the env; only ``env.step`` is timed.
The physics steps a motion contains are counted from ``data.time``; right after
each step the same number of ``mj_step`` calls, one ``mj_forward`` and one
render are timed on a copy of the data with no env around them. The ratio of
the two is the cost of everything we add (IK planning, wrappers, observation
assembly); 1.15 means 15% overhead.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401
from cliprt_envs.language_env import expert_action
from cliprt_envs.registry import SIM_TASKS


def measure(env_id: str, steps: int, size: int) -> dict:
    import mujoco

    env = gym.make(env_id, image_size=size)
    base = env.unwrapped
    model, data = base.backend.model, base.backend.data
    # The bare twin of each step runs right after it, on a copy of the data,
    # so both see the same machine load.
    ours = bare = 0.0
    physics_steps = motions = episode = 0
    env.reset(seed=episode)  # the env's camera sets up GL safely (sim/camera.py) before ours exists
    renderer = mujoco.Renderer(model, size, size)
    cam = model.camera("front").id
    while motions < steps:
        action = expert_action(env)
        scratch = copy.copy(data)  # MjData's own copy (mj_copyData is not in every MuJoCo release)
        t0_sim = data.time
        t0 = time.perf_counter()
        _, _, term, trunc, _ = env.step(action)
        ours += time.perf_counter() - t0
        n = round((data.time - t0_sim) / model.opt.timestep)
        t0 = time.perf_counter()
        if n:
            mujoco.mj_step(model, scratch, nstep=n)
        mujoco.mj_forward(model, scratch)
        renderer.update_scene(scratch, camera=cam)
        renderer.render()
        bare += time.perf_counter() - t0
        physics_steps += n
        motions += 1
        if term or trunc:
            episode += 1
            env.reset(seed=episode)
    renderer.close()
    env.close()
    return {
        "env_id": env_id,
        "motions": motions,
        "physics_steps_per_motion": physics_steps / motions,
        "steps_per_second": motions / ours,
        "ratio_to_bare": ours / bare,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="motion steps per task")
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    parser.add_argument("--cores", type=int, default=1, help="pin the process to this many cores")
    parser.add_argument("--tasks", nargs="*", help="task names (default: all)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and args.cores > 0:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    rows = [measure(e.env_id, args.steps, args.size) for e in SIM_TASKS if not args.tasks or e.name in args.tasks]
    print(f"MUJOCO_GL={os.environ.get('MUJOCO_GL', 'unset')}, {args.size}x{args.size} image every step, {args.cores} core(s)")
    print(f"{'env id':<34} {'steps/s':>8} {'physics/step':>13} {'ours/bare':>10}")
    for r in rows:
        print(f"{r['env_id']:<34} {r['steps_per_second']:8.1f} {r['physics_steps_per_motion']:13.0f} {r['ratio_to_bare']:10.2f}")
    sps = np.array([r["steps_per_second"] for r in rows])
    ratio = np.array([r["ratio_to_bare"] for r in rows])
    print(f"{'mean':<34} {sps.mean():8.1f} {'':>13} {ratio.mean():10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
