"""LIBERO's demonstration HDF5 layout: read it, and write it by driving our LIBERO env.

One file per task (``<task>_demo.hdf5``), as LIBERO ships them::

    data                          attrs: problem_info (JSON, with language_instruction),
                                         env_args (JSON), bddl_file_name, num_demos, total
    data/demo_<i>                 attrs: num_samples, init_state
        actions        (T, 7)     OSC_POSE delta in [-1, 1] (5 cm / 0.5 rad per unit), gripper -1 open / +1 close
        states         (T, S)     MuJoCo state (time, qpos, qvel)
        robot_states   (T, 9)     gripper qpos (2), eef position (3), eef quaternion xyzw (4)
        rewards, dones (T,)
        obs/agentview_rgb, obs/eye_in_hand_rgb   (T, 128, 128, 3) uint8, OpenGL orientation (upside down)
        obs/gripper_states (T, 2), joint_states (T, 7), ee_states (T, 6), ee_pos (T, 3), ee_ori (T, 3)

:func:`record_libero_demos` writes exactly this from a
``CLIPRT-LIBERO-*`` env in continuous mode and a policy (so tests and users
without LIBERO's downloads have real files of that layout);
:func:`read_libero_demos` yields what the converter needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_KEYS = ("agentview_rgb", "eye_in_hand_rgb")


@dataclass(frozen=True)
class LiberoDemo:
    """One demonstration: upright images ``(T, H, W, 3)``, native actions ``(T, 7)``, the instruction."""

    name: str
    images: np.ndarray
    actions: np.ndarray
    instruction: str
    success: bool


def instruction_from_filename(path: str | Path) -> str:
    """LIBERO's instruction spelled by a file name: ``KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5`` -> ``turn on the stove``."""
    stem = Path(path).stem
    stem = re.sub(r"_demo$", "", stem)
    words = [w for w in stem.split("_") if w]
    while words and (words[0].isupper() or words[0].isdigit()) and len(words) > 1:  # scene prefix: KITCHEN_SCENE3_
        words = words[1:]
    return " ".join(words)


def file_instruction(data: Any, path: str | Path) -> str:
    """The ``language_instruction`` of a file's ``problem_info``, else the one its name spells."""
    raw = data.attrs.get("problem_info")
    if raw is not None:
        info = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        if info.get("language_instruction"):
            return str(info["language_instruction"])
    return instruction_from_filename(path)


def _demo_names(data: Any) -> list[str]:
    names = [n for n in data if n.startswith("demo_")]
    return sorted(names, key=lambda n: int(n.split("_")[1]) if n.split("_")[1].isdigit() else 0)


def read_libero_demos(path: str | Path, *, image_key: str = "agentview_rgb") -> Iterator[LiberoDemo]:
    """The demonstrations of one LIBERO HDF5 file, images turned upright (rows flipped)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no LIBERO demonstration file at {path}; see `cliprt libero download --help`")
    with h5py.File(path, "r") as f:
        if "data" not in f:
            raise ValueError(f"{path} is not a LIBERO demonstration file (no 'data' group)")
        data = f["data"]
        instruction = file_instruction(data, path)
        for name in _demo_names(data):
            demo = data[name]
            if "actions" not in demo or f"obs/{image_key}" not in demo:
                have = sorted(demo["obs"].keys()) if "obs" in demo else []
                raise ValueError(f"{path}:{name} lacks actions or obs/{image_key} (obs has {have}); pass image_key=")
            actions = np.asarray(demo["actions"], dtype=np.float64)
            if actions.ndim != 2 or actions.shape[1] != 7:
                raise ValueError(f"{path}:{name}: actions must be (T, 7), got {actions.shape}")
            images = np.asarray(demo[f"obs/{image_key}"], dtype=np.uint8)[:, ::-1]
            dones = np.asarray(demo["dones"]) if "dones" in demo else np.ones(1)
            yield LiberoDemo(name, np.ascontiguousarray(images), actions, instruction, bool(dones[-1]))


def _step_record(env: Any) -> dict[str, np.ndarray]:
    """LIBERO's per-step observation fields, read from the env's backend before an action."""
    backend = env.unwrapped.backend
    pos, quat_wxyz = backend.tcp_pose()
    quat_xyzw = np.concatenate([quat_wxyz[1:], quat_wxyz[:1]])
    from cliprt_envs.rotations import matrix_to_rotvec

    ori = matrix_to_rotvec(backend.tcp_rotation())
    robot = backend._robot
    joints = np.array([backend.sim.data.qpos[i] for i in robot._ref_joint_pos_indexes])
    fingers = backend.finger_qpos()
    return {
        "states": backend.env.get_sim_state(),
        "robot_states": np.concatenate([fingers, pos, quat_xyzw]),
        "gripper_states": fingers,
        "joint_states": joints,
        "ee_states": np.concatenate([pos, ori]),
        "ee_pos": pos,
        "ee_ori": ori,
    }


def _record_episode(env: Any, policy: Callable[[dict, int], np.ndarray], init_index: int, max_steps: int) -> dict[str, Any]:
    obs, _ = env.reset(options={"init_state_index": init_index})
    rows: dict[str, list] = {k: [] for k in ("actions", "rewards", "dones", *IMAGE_KEYS)}
    fields: dict[str, list] = {}
    init_state = env.unwrapped.backend.env.get_sim_state()
    for t in range(max_steps):
        for key, value in _step_record(env).items():
            fields.setdefault(key, []).append(value)
        rows["agentview_rgb"].append(obs["image"][::-1])  # back to LIBERO's OpenGL orientation
        rows["eye_in_hand_rgb"].append(obs["wrist_image"][::-1] if "wrist_image" in obs else obs["image"][::-1])
        action = np.asarray(policy(obs, t), dtype=np.float64)
        obs, reward, terminated, truncated, _ = env.step(action)
        rows["actions"].append(action)
        rows["rewards"].append(reward)
        rows["dones"].append(int(terminated))
        if terminated or truncated:
            break
    rows["dones"][-1] = 1  # LIBERO marks each demonstration's last step done
    return {"rows": rows, "fields": fields, "init_state": init_state}


def record_libero_demos(
    env: Any, path: str | Path, policy: Callable[[dict, int], np.ndarray], *, episodes: int = 2, max_steps: int = 40
) -> Path:
    """Drive ``env`` (a ``CLIPRT-LIBERO-*`` env with ``continuous=True``) with ``policy(obs, t) -> (7,)`` and
    write the episodes in LIBERO's demonstration layout (see the module docstring); returns ``path``.
    """
    import h5py

    unwrapped = env.unwrapped
    if not getattr(unwrapped, "continuous", False) or unwrapped.action_space.shape != (7,):
        raise ValueError("record_libero_demos needs a LIBERO env made with continuous=True (LIBERO's 7-D actions)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    instruction = unwrapped.task.instruction
    total = 0
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for i in range(episodes):
            ep = _record_episode(env, policy, i, max_steps)
            demo = data.create_group(f"demo_{i}")
            for key in ("actions", "rewards", "dones"):
                demo.create_dataset(key, data=np.asarray(ep["rows"][key]))
            for key in ("states", "robot_states"):
                demo.create_dataset(key, data=np.asarray(ep["fields"][key]))
            for key in IMAGE_KEYS:
                demo.create_dataset(f"obs/{key}", data=np.asarray(ep["rows"][key], dtype=np.uint8))
            for key in ("gripper_states", "joint_states", "ee_states", "ee_pos", "ee_ori"):
                demo.create_dataset(f"obs/{key}", data=np.asarray(ep["fields"][key]))
            demo.attrs["num_samples"] = len(ep["rows"]["actions"])
            demo.attrs["init_state"] = ep["init_state"]
            total += len(ep["rows"]["actions"])
        problem = {
            "problem_name": "libero_tabletop_manipulation",
            "domain_name": "robosuite",
            "language_instruction": instruction,
        }
        data.attrs["problem_info"] = json.dumps(problem)
        data.attrs["env_args"] = json.dumps({"type": 1, "env_name": unwrapped.task.task_name, "env_kwargs": {}})
        data.attrs["bddl_file_name"] = f"{unwrapped.task.task_name}.bddl"
        data.attrs["num_demos"] = episodes
        data.attrs["total"] = total
    return path
