"""LIBERO speed: construction and reset, steps per second with cameras, our wrapper's overhead, CLIP-RT+ speed.

    python -m benchmarks.libero_speed [--steps 60] [--size 128] [--model CLIPRT-Tiny]

Figures (all in one run, on one machine, so ratios compare like with like):

1. ``gym.make`` of a ``CLIPRT-LIBERO-Spatial-v0`` task and ``reset`` (LIBERO's reset,
   the fixed init state and 10 settle steps), soft and hard (``hard_reset=True``);
2. control steps per second: raw LIBERO (``OffScreenRenderEnv`` with its two
   cameras, shadows as shipped) against our env in ``continuous=True`` mode with
   the same two cameras (shadows and reflections off, our default; and on);
3. the wrapper's overhead: our continuous step vs a raw ``env.step`` plus the two
   renders our step does, on the same env;
4. language motions: seconds and control steps per motion;
5. CLIP-RT+ on this CPU: seconds per chunk (one model call) and actions per
   second when the whole 8-action chunk runs, for ``--model`` (an open_clip
   name; weights are random, speed does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401
from cliprt_envs.libero.suites import LIBERO_SUITES

ENV_ID = LIBERO_SUITES[0].env_id
ZERO = np.array([0, 0, 0, 0, 0, 0, -1.0])


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def construction_and_reset(size: int) -> dict:
    make_s, env = timed(gym.make, ENV_ID, image_size=size, continuous=True, wrist_camera=True)
    resets = [timed(env.reset, options={"init_state_index": k})[0] for k in range(3)]
    env.close()
    hard_make_s, hard = timed(gym.make, ENV_ID, image_size=size, continuous=True, hard_reset=True)
    hard_reset_s = np.mean([timed(hard.reset, options={"init_state_index": k})[0] for k in range(2)])
    hard.close()
    return {"make_s": make_s, "reset_s": float(np.mean(resets)), "hard_make_s": hard_make_s, "hard_reset_s": hard_reset_s}


def raw_libero_steps_per_second(size: int, steps: int) -> float:
    """LIBERO as the official evaluation builds it: OffScreenRenderEnv, two cameras, shadows as shipped."""
    from cliprt_envs.libero.bootstrap import import_libero

    modules = import_libero()
    bench = modules.benchmark.get_benchmark_dict()["libero_spatial"]()
    task = bench.get_task(0)
    bddl = f"{modules.libero.get_libero_path('bddl_files')}/{task.problem_folder}/{task.bddl_file}"
    env = modules.envs.OffScreenRenderEnv(bddl_file_name=bddl, camera_heights=size, camera_widths=size)
    env.reset()
    env.set_init_state(bench.get_task_init_states(0)[0])
    seconds, _ = timed(lambda: [env.step(ZERO) for _ in range(steps)])
    env.close()
    return steps / seconds


def ours_steps_per_second(size: int, steps: int, shadows: bool) -> dict:
    env = gym.make(ENV_ID, image_size=size, continuous=True, wrist_camera=True, shadows=shadows)
    env.reset(options={"init_state_index": 0})
    ours, _ = timed(lambda: [env.step(ZERO) for _ in range(steps)])
    backend, base = env.unwrapped.backend, env.unwrapped

    def bare() -> None:  # what our step needs at least: LIBERO's step and the two renders
        backend.env.step(ZERO)
        base.camera.read()
        base.wrist_camera.read()

    env.reset(options={"init_state_index": 0})
    bare_s, _ = timed(lambda: [bare() for _ in range(steps)])
    no_cam_s, _ = timed(lambda: [backend.env.step(ZERO) for _ in range(steps)])
    env.close()
    return {"ours": steps / ours, "bare": steps / bare_s, "no_cameras": steps / no_cam_s}


def motions(size: int, count: int) -> dict:
    env = gym.make(ENV_ID, image_size=size)
    env.reset(options={"init_state_index": 0})
    texts = [
        "move the arm forward by 5 centimeters",
        "move the arm back by 5 centimeters",
        "close the gripper",
        "open the gripper",
    ]
    seconds, control = [], []
    for k in range(count):
        dt, out = timed(env.step, texts[k % len(texts)])
        seconds.append(dt)
        control.append(out[4]["motion_control_steps"])
    env.close()
    return {"s_per_motion": float(np.mean(seconds)), "control_steps_per_motion": float(np.mean(control))}


def plus_speed(model_name: str, calls: int) -> dict:
    import torch

    from cliprt_agents.config import ModelConfig
    from cliprt_agents.libero_hub import LIBERO_ACTION_INDICES
    from cliprt_agents.model import build_model
    from cliprt_agents.plus_libero import LiberoChunkAgent, plus_chunk_predictor
    from cliprt_agents.policy import CLIPRTPlusPolicy
    from cliprt_envs import default_vocabulary

    torch.manual_seed(0)
    config = ModelConfig(backbone=model_name, pretrained=None, variant="plus", action_indices=LIBERO_ACTION_INDICES)
    vocab = default_vocabulary()
    policy = CLIPRTPlusPolicy(build_model(config, vocab, load_pretrained=False).eval(), vocab)
    agent = LiberoChunkAgent(plus_chunk_predictor(policy), config.chunk_size)
    obs = {"image": np.zeros((256, 256, 3), np.uint8), "instruction": "put the bowl on the plate"}  # the official 256 px
    agent.act(obs)  # warm-up (prompt cache, first-call allocations)
    agent.stats.__init__()
    for _ in range(calls * config.chunk_size):
        agent.act(obs)
    return {"s_per_chunk": agent.stats.latency_per_chunk_s, "actions_per_s": agent.stats.actions_per_second}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60, help="control steps per speed measurement")
    p.add_argument("--size", type=int, default=128, help="camera side in pixels (LIBERO's demonstrations: 128)")
    p.add_argument("--model", default="CLIPRT-Tiny", help="open_clip model for the CLIP-RT+ figures")
    p.add_argument("--chunks", type=int, default=5, help="model calls for the CLIP-RT+ figures")
    args = p.parse_args()
    print(f"MUJOCO_GL={os.environ.get('MUJOCO_GL')} cores={os.cpu_count()} camera {args.size} px")
    c = construction_and_reset(args.size)
    print(f"make {c['make_s']:.1f} s, reset (init state + 10 settle steps) {c['reset_s']:.2f} s")
    print(f"hard_reset=True: make {c['hard_make_s']:.1f} s, reset {c['hard_reset_s']:.2f} s")
    raw = raw_libero_steps_per_second(args.size, args.steps)
    off = ours_steps_per_second(args.size, args.steps, shadows=False)
    on = ours_steps_per_second(args.size, args.steps, shadows=True)
    print(f"raw LIBERO, 2 cameras, shadows as shipped: {raw:.1f} control steps/s")
    print(f"ours, 2 cameras, shadows on: {on['ours']:.1f} steps/s ({on['ours'] / raw:.2f}x raw LIBERO)")
    print(f"ours, 2 cameras, shadows off (default): {off['ours']:.1f} steps/s ({off['ours'] / raw:.2f}x raw LIBERO)")
    overhead = off["bare"] / off["ours"]
    print(f"wrapper overhead: bare step + 2 renders {off['bare']:.1f} steps/s vs ours {off['ours']:.1f} ({overhead:.3f}x)")
    print(f"physics only (no cameras): {off['no_cameras']:.1f} steps/s")
    m = motions(args.size, 8)
    print(f"language motion: {m['s_per_motion']:.2f} s, {m['control_steps_per_motion']:.1f} control steps each")
    s = plus_speed(args.model, args.chunks)
    print(f"CLIP-RT+ ({args.model}, CPU): {1000 * s['s_per_chunk']:.1f} ms per chunk, {s['actions_per_s']:.1f} actions/s")


if __name__ == "__main__":
    main()
