"""Revisit avoidance: how a memoryless policy leaves a loop.

A policy that sees only the current observation chooses from the same scores
whenever it is back in the same state. When a motion brings the arm back to a
state it was in earlier in the episode (an unchanged step against the
workspace clamp, or the way back of a back-and-forth), choosing there what it
chose before repeats the loop: the sim, and a position-controlled arm, go
where they went last time. The main job's traces found most failed CLIP-RT
episodes ending in such loops (README, "Known limits").

With ``revisits="avoid"`` an agent remembers, per episode and per env of a
vector env, which motions it took from each arm state it was in (the
observation's ``proprio``: TCP position and orientation, gripper opening) and
rules those motions out when it is back within :data:`REVISIT_TOLERANCE` of
that state, so it takes its next best motion instead. Where it has already
taken every motion, nothing is ruled out. The memory sees only what the agent
sees (no object poses), so it works the same on the twin and on the real arm.

Agent specs carry it as an option: ``clip-rt=PATH?selection=sample&temperature=0.3&revisits=avoid``
(also ``bc=``). ``revisits="allow"`` (the default) is the paper's memoryless policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cliprt_envs.rotations import quat_wxyz_to_matrix

REVISIT_MODES = ("allow", "avoid")
#: Two arm states are the same within this, per coordinate: 3 mm of TCP position, 3e-3 of a rotation-matrix
#: entry (about 0.2 degrees), 3e-3 of the gripper's 0..1 opening. The smallest motion is 1 cm or 1 degree.
REVISIT_TOLERANCE = 3e-3


def _checked(mode: Any) -> str:
    if mode not in REVISIT_MODES:
        raise ValueError(f"revisits must be one of {REVISIT_MODES}, got {mode!r}")
    return mode


def revisits_from_options(options: Mapping[str, Any]) -> str:
    """The ``revisits`` mode an agent spec's options ask for ("allow" by default)."""
    return _checked(str(options.get("revisits", "allow")))


def revisit_memory(mode: str) -> RevisitMemory | None:
    """What an agent keeps for ``revisits=mode``: a :class:`RevisitMemory` for "avoid", None for "allow"."""
    return RevisitMemory() if _checked(mode) == "avoid" else None


def arm_states(proprio: Any) -> np.ndarray:
    """``(B, 13)`` comparable arm states from ``(8,)`` or ``(B, 8)`` proprio: position, rotation matrix, gripper."""
    rows = np.atleast_2d(np.asarray(proprio, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[1] != 8:
        raise ValueError(f"proprio must be (8,) or (B, 8) (TCP xyz, wxyz quaternion, gripper); got shape {np.shape(proprio)}")
    rotations = np.stack([quat_wxyz_to_matrix(q).ravel() for q in rows[:, 3:7]])
    return np.concatenate([rows[:, :3], rotations, rows[:, 7:]], axis=1)


class RevisitMemory:
    """Which motions each env took from which arm state this episode; the factors that rule them out again."""

    def __init__(self, tolerance: float = REVISIT_TOLERANCE) -> None:
        if not tolerance > 0:
            raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
        self.tolerance = float(tolerance)
        self._states: dict[int, list[np.ndarray]] = {}
        self._motions: dict[int, list[set[int]]] = {}

    def reset(self, env_index: int | None = None) -> None:
        """Forget every env's episode (``None``) or one env's."""
        if env_index is None:
            self._states.clear()
            self._motions.clear()
        else:
            self._states.pop(env_index, None)
            self._motions.pop(env_index, None)

    def _match(self, env: int, state: np.ndarray) -> int | None:
        states = self._states.get(env)
        if not states:
            return None
        distances = np.max(np.abs(np.stack(states) - state), axis=1)
        best = int(distances.argmin())
        return best if distances[best] <= self.tolerance else None

    def factors(self, observation: Mapping[str, Any], n_motions: int) -> np.ndarray:
        """``(B, N)``: 0 for a motion already taken from this env's current arm state, else 1."""
        states = arm_states(_proprio(observation))
        out = np.ones((len(states), n_motions))
        for env, state in enumerate(states):
            match = self._match(env, state)
            if match is None:
                continue
            taken = [m for m in self._motions[env][match] if 0 <= m < n_motions]
            if len(taken) < n_motions:  # where every motion was tried, rule nothing out
                out[env, taken] = 0.0
        return out

    def record(self, observation: Mapping[str, Any], chosen: Any) -> None:
        """Remember that each env took ``chosen[env]`` from its current arm state."""
        states = arm_states(_proprio(observation))
        for env, (state, motion) in enumerate(zip(states, np.atleast_1d(chosen))):
            match = self._match(env, state)
            if match is None:
                self._states.setdefault(env, []).append(state)
                self._motions.setdefault(env, []).append(set())
                match = len(self._states[env]) - 1
            self._motions[env][match].add(int(motion))


def _proprio(observation: Mapping[str, Any]) -> Any:
    if "proprio" not in observation:
        raise ValueError("revisits='avoid' needs the arm state: the observation needs 'proprio' (as LanguageMotionEnv gives)")
    return observation["proprio"]
