"""Per-step latency budget of the real-UR5 env (policy, camera, move), measured against the MuJoCo twin.

    python -m benchmarks.ur5_latency [--agent clip-rt=cliprt-ur5sim-v6] [--steps 40] [--mode moveL servoL]

A policy drives ``CLIPRT-UR5-v0`` through the real driver code on the twin's
doubles. Per step it times the policy's ``act``, the backend's ``move``
(safety checks, the RTDE calls and the twin's physics) and the camera read
(the twin renders, the RealSense code crops and resizes). The twin moves as
fast as it can compute, so the time the *real* arm needs is the planned
duration of each move (trapezoidal profile at the config's speed and
acceleration limits), reported beside it, together with the wait for a fresh
frame a real camera adds (``camera.flush_frames`` skipped, then the next one).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401
from cliprt.demo.pipeline import SHIPPED_CHECKPOINT


def timed(fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - start)

    return wrapper


def make_agent(text: str, vocabulary: Any) -> tuple[Any, str]:
    from cliprt_agents.registry import AgentSpec
    from cliprt_agents.registry import make_agent as build

    try:
        return build(AgentSpec.parse(text), vocabulary), text
    except Exception as exc:  # e.g. the checkpoint is not installed here: say so, time a random policy
        print(f"(agent {text!r} unavailable: {type(exc).__name__}: {str(exc)[:120]}; timing 'random')")
        return build(AgentSpec.parse("random"), vocabulary), "random"


def measure(agent_text: str, steps: int, mode: str, image_size: int) -> dict[str, Any]:
    from cliprt_envs.ur5.twin import UR5Twin

    with UR5Twin() as twin:
        config = twin.config(motion_mode=mode)
        config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, fps=30))  # a D435's colour rate
        env = gym.make("CLIPRT-UR5-v0", config=config, drivers=twin.drivers(), realsense=twin.realsense(), image_size=image_size)
        base = env.unwrapped
        agent, used = make_agent(agent_text, base.vocabulary)
        moves: list[float] = []
        frames: list[float] = []
        base.backend.move = timed(base.backend.move, moves)
        base.camera.read = timed(base.camera.read, frames)
        policy: list[float] = []
        planned: list[float] = []
        try:
            obs, _ = env.reset(seed=0)
            agent.reset(instruction=obs["instruction"])
            frames.clear()
            for _ in range(steps):
                start = time.perf_counter()
                batch = {"image": obs["image"][None], "instruction": (obs["instruction"],), "proprio": obs["proprio"][None]}
                action = np.asarray(agent.act(batch))[0]  # agents act on batches (as in the benchmark runner)
                policy.append(time.perf_counter() - start)
                obs, _, terminated, truncated, info = env.step(action)
                planned.append(info["planned_duration_s"])
                if terminated or truncated:
                    obs, _ = env.reset()
                    agent.reset(instruction=obs["instruction"])
        finally:
            env.close()
    return {
        "agent": used,
        "mode": mode,
        "policy": policy,
        "move": moves,
        "camera": frames[: len(moves)],
        "planned": planned,
        "fps": config.camera.fps,
        "flush": config.camera.flush_frames,
    }


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{1000 * statistics.median(values):.1f} / {1000 * float(np.percentile(values, 90)):.1f}"


def report(result: dict[str, Any]) -> None:
    period = 1.0 / result["fps"]
    frame_wait = (result["flush"] + 0.5) * period  # flushed frames, then half a period on average
    moving = [p for p in result["planned"] if p > 0]
    real = statistics.median(result["policy"]) + statistics.median(moving or [0.0]) + frame_wait
    print(f"\n{result['mode']}, agent {result['agent']}, {len(result['planned'])} steps; median / p90 in ms")
    print(f"  policy act()                          {ms(result['policy'])}")
    print(f"  move: checks + RTDE + twin physics    {ms(result['move'])}")
    print(f"  camera: twin render + crop/resize     {ms(result['camera'])}")
    print(f"  move on the real arm (planned)        {ms(moving)}   ({len(moving)} arm moves)")
    wait = f"mean {1000 * frame_wait:.1f}, at most {1000 * (result['flush'] + 1) * period:.1f}"
    print(f"  wait for a fresh real frame           {wait} ({result['flush']} flushed, {result['fps']} fps)")
    print(f"  => a real step: about {1000 * real:.0f} ms (policy + planned move + frame wait), {1 / real:.2f} steps/s")


def planned_by_motion(speed_scale: float = 1.0) -> None:
    """The real arm's planned time for each distinct motion of the vocabulary (config limits of the twin)."""
    from cliprt_envs.language_env import continuous_action_bounds
    from cliprt_envs.motions import default_vocabulary
    from cliprt_envs.protocols import Workspace
    from cliprt_envs.ur5.config import RobotConfig
    from cliprt_envs.ur5.safety import SafetyGuard

    vocabulary = default_vocabulary()
    config = RobotConfig("twin", (0.0,) * 6, Workspace((-2, -2, -2), (2, 2, 2))).with_speed_scale(speed_scale)
    guard = SafetyGuard(config, continuous_action_bounds(vocabulary)[1])
    pose = np.array([0.45, 0.0, 0.25, np.pi, 0.0, 0.0])
    seen: dict[str, float] = {}
    for k in range(len(vocabulary)):
        delta = vocabulary.delta(k)
        move = guard.plan(pose, delta)
        if move.distance > 0:
            key = f"{100 * move.distance:.0f} cm"
        elif move.angle > 0:
            key = f"{np.degrees(move.angle):.0f} deg"
        else:
            key = "gripper only"
        seen.setdefault(key, move.duration_s)
    limits = config.limits
    speeds = f"{limits.linear_speed:.3f} m/s, {limits.angular_speed:.2f} rad/s"
    print(f"\nplanned real-arm time per motion at {speeds} (speed_scale {speed_scale}; a Robotiq close adds ~0.5-1 s):")
    for key, duration in seen.items():
        print(f"  {key:<14} {1000 * duration:7.0f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default=f"clip-rt={SHIPPED_CHECKPOINT}", help="agent spec, as for `cliprt bench run`")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--mode", nargs="+", default=["moveL", "servoL"], choices=["moveL", "servoL"])
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args(argv)
    logging.getLogger("cliprt_envs.ur5").setLevel(logging.ERROR)
    for mode in args.mode:
        report(measure(args.agent, args.steps, mode, args.image_size))
    planned_by_motion(1.0)
    planned_by_motion(0.25)


if __name__ == "__main__":
    main()
