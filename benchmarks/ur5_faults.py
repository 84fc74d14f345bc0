"""The fault table of the real-UR5 env: each fault injected in the MuJoCo twin, and what the env did.

    python -m benchmarks.ur5_faults [--faults protective_stop ...] [--out DIR]

For every fault, one env (the real driver code against the twin's ``ur_rtde``,
``pyrealsense2`` and Robotiq-socket doubles) runs inside a ``DatasetRecorder``:
a clean episode first, then the fault during the second. The table says how
the episode ended (``info["fault"]`` / ``info["refused"]`` / the exception),
whether the arm was stopped after the fault, how many moves reached the
controller after it before ``reset()``, what ``reset()`` said before a person
cleared the fault, and how many finished episodes the recorder kept.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import cliprt_envs  # noqa: F401
from cliprt_envs.protocols import Workspace

LEFT = "move the arm to the left by 5 centimeters"
DOWN = "lower the arm by 5 centimeters"


def _stop_after_last_move(twin: Any) -> bool:
    names = [n for n, _ in twin.calls]
    moves = [i for i, n in enumerate(names) if n.endswith(("moveL", "servoL"))]
    after = names[moves[-1] + 1 :] if moves else names
    return any(n.endswith(("stopL", "servoStop")) for n in after)


def _step(env: Any, action: Any) -> tuple[str, bool]:
    """``(what happened, episode ended)`` for one step."""
    try:
        _, _, terminated, truncated, info = env.step(action)
    except Exception as exc:  # the env's reaction is the row's content
        return f"raised {type(exc).__name__}", False
    if info["fault"]:
        return f"ended: fault={info['fault']}", truncated or terminated
    if info["refused"]:
        return f"refused: {info['refused'][:40]}", False
    if info["workspace_clamped"]:
        return "clamped to the box", False
    return f"episode goes on (frames dropped: {info['camera_frames_dropped']})", False


def _scenario(fault: str) -> tuple[Callable[[Any], None], list[Any], bool, dict[str, Any]]:
    """``(inject, actions of the faulty episode, continuous, config overrides)``."""
    inject: Callable[[Any], None] = lambda twin: twin.inject(fault)  # noqa: E731
    actions: list[Any] = [LEFT]
    overrides: dict[str, Any] = {}
    if fault == "gripper_fault":
        actions = ["close the gripper"]
    elif fault in ("camera_timeout", "frame_drop"):
        actions = [DOWN]
    elif fault == "outside_box":
        inject, actions = (lambda twin: None), [LEFT] * 7
    elif fault == "outside_controller_limits":
        inject = lambda twin: setattr(twin, "limits_box", Workspace((-0.8, -0.02, 0.0), (0.8, 0.8, 0.8)))  # noqa: E731
    elif fault == "no_ik_solution":
        inject = lambda twin: setattr(twin, "reach_limit", 5.0)  # noqa: E731
        actions = ["move the arm forward by 5 centimeters"] * 12
        overrides = {"workspace": Workspace((0.3, -0.25, 0.03), (1.5, 0.25, 0.4))}
    elif fault == "nan_from_policy":
        inject, actions = (lambda twin: None), [np.array([0.01, np.nan, 0, 0, 0, 0, 0, 0], np.float32)]
    return inject, actions, fault == "nan_from_policy", overrides


def _faulty_episode(rec: Any, twin: Any, actions: list[Any], continuous: bool) -> dict[str, Any]:
    """Run the fault's actions; an episode the fault did not end goes on one step and is ended by a person."""
    vocabulary = rec.unwrapped.vocabulary
    start, ended, reaction = time.perf_counter(), False, ""
    for action in actions:
        reaction, ended = _step(rec, action if continuous else vocabulary.id_of(action))
        if ended or reaction.startswith(("refused", "raised")):
            break
    react_s = time.perf_counter() - start
    stopped = _stop_after_last_move(twin)
    moves = twin.moves
    if ended:
        after = _step(rec.unwrapped, np.zeros(8) if continuous else 0)[0]
        sent_after: Any = twin.moves - moves
    else:
        after = _step(rec, np.zeros(8, np.float32) if continuous else vocabulary.id_of(DOWN))[0]
        sent_after = "-"
        rec.end_episode()
    return {
        "reaction": reaction,
        "stop sent": "yes" if stopped else "no",
        "next step": after,
        "moves sent after": sent_after,
        "react_s": react_s,
    }


def run_fault(fault: str, out: Path) -> dict[str, Any]:
    from cliprt_data.recorder import DatasetRecorder
    from cliprt_envs.ur5.twin import UR5Twin

    inject, actions, continuous, overrides = _scenario(fault)
    first = np.zeros(8, np.float32) if continuous else 0
    with UR5Twin() as twin:
        config = twin.config(**overrides)
        env = gym.make("CLIPRT-UR5-v0", config=config, drivers=twin.drivers(), realsense=twin.realsense(), continuous=continuous)
        rec = DatasetRecorder(env, out / f"{fault}-v0")
        try:
            rec.reset(seed=0)
            rec.step(first)
            rec.end_episode(success=False)
            rec.reset(seed=1)
            inject(twin)
            row = _faulty_episode(rec, twin, actions, continuous)
            try:
                rec.reset(seed=2)
                row["reset before clearing"] = "ok (no person needed)"
            except Exception as exc:  # reported in the table
                row["reset before clearing"] = type(exc).__name__
            twin.clear()  # a person clears the fault
            rec.reset(seed=3)
            rec.step(first)
            rec.end_episode()
            row["kept"] = f"{rec.episodes_written}/3"  # the clean one, the faulty one, the one after
        finally:
            rec.close()
    return {"fault": fault, **row}


FAULTS = (
    "protective_stop",
    "emergency_stop",
    "disconnect",
    "camera_timeout",
    "frame_drop",
    "gripper_fault",
    "outside_box",
    "outside_controller_limits",
    "no_ik_solution",
    "nan_from_policy",
)


def silent_listener_row() -> dict[str, Any]:
    """make() against a controller that accepts TCP but never answers (the real ur_rtde in a killed subprocess)."""
    from cliprt_envs.ur5.twin import UR5Twin

    with UR5Twin() as twin:
        twin.inject("silent_listener")
        start = time.perf_counter()
        try:
            gym.make(
                "CLIPRT-UR5-v0", config=twin.config(connect_timeout_s=2.0), drivers=twin.drivers(), realsense=twin.realsense()
            )
            reaction = "connected (wrong)"
        except Exception as exc:  # the expected outcome
            reaction = f"make raised {type(exc).__name__}"
        took = time.perf_counter() - start
    return {
        "fault": "silent_listener (connect_timeout_s=2)",
        "reaction": reaction,
        "stop sent": "-",
        "next step": "-",
        "moves sent after": 0,
        "reset before clearing": "-",
        "kept": "-",
        "react_s": took,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="where the recorders write (default: a temporary folder)")
    parser.add_argument(
        "--faults", nargs="+", default=[*FAULTS, "silent_listener"], choices=[*FAULTS, "silent_listener"], help="which rows"
    )
    args = parser.parse_args(argv)
    logging.getLogger("cliprt_envs.ur5").setLevel(logging.ERROR)  # the faults are expected here
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        rows = [silent_listener_row() if f == "silent_listener" else run_fault(f, out) for f in args.faults]
    keys = ["fault", "reaction", "stop sent", "next step", "moves sent after", "reset before clearing", "kept", "react_s"]
    print("| " + " | ".join(keys[:-1]) + " | time to react (s) |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys[:-1]) + f" | {row['react_s']:.2f} |")


if __name__ == "__main__":
    main()
