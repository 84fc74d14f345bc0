"""Episodes in memory: the per-step info row, the builder a recorder fills, the decoded episode a reader returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cliprt_data.storage.format import ACTION_DIM, STEP_KINDS


def info_row(
    *,
    supervision: str = "",
    motion_id: int = -1,
    action: Sequence[float] | np.ndarray | None = None,
    achieved: Sequence[float] | np.ndarray | None = None,
    labelled: bool = False,
    demonstrated: bool = True,
    step_kind: str = "reset",
    ik_failed: bool = False,
    table_collision: bool = False,
    workspace_clamped: bool = False,
    is_success: bool = False,
    segment: int = -1,
    sim_state: np.ndarray | None = None,
) -> dict[str, Any]:
    """One row of per-step infos, with the same keys and dtypes in every dataset.

    ``labelled``: the step carries a language label (motion id + supervision)
    to train on. ``demonstrated``: its low-level action is one to imitate
    (False only for STA deviations; action chunks stop there).
    """
    if step_kind not in STEP_KINDS:
        raise ValueError(f"unknown step kind {step_kind!r}; use one of {STEP_KINDS}")
    row = {
        "supervision": str(supervision),
        "motion_id": np.int64(motion_id),
        "action": np.zeros(ACTION_DIM, np.float32) if action is None else np.asarray(action, np.float32).reshape(ACTION_DIM),
        "achieved_delta": (
            np.zeros(ACTION_DIM, np.float32) if achieved is None else np.asarray(achieved, np.float32).reshape(ACTION_DIM)
        ),
        "labelled": bool(labelled),
        "demonstrated": bool(demonstrated),
        "step_kind": step_kind,
        "ik_failed": bool(ik_failed),
        "table_collision": bool(table_collision),
        "workspace_clamped": bool(workspace_clamped),
        "is_success": bool(is_success),
        "segment": np.int64(segment),
    }
    if sim_state is not None:
        row["sim_state"] = np.asarray(sim_state, np.float64).ravel()
    return row


class EpisodeBuilder:
    """An episode being recorded: observations, actions and info rows, in memory.

    Kept in memory until the episode ends, then written in one go; a crash
    therefore loses only this episode. ``truncate`` drops trailing steps (undo
    in teleoperation, roll-backs in trajectory augmentation).
    """

    def __init__(self, observation: Mapping[str, Any], info: Mapping[str, Any], state: Any = None) -> None:
        self.observations: list[dict[str, Any]] = [_copy_obs(observation)]
        self.infos: list[dict[str, Any]] = [dict(info)]
        self.states: list[Any] = [state]
        self.actions: list[Any] = []
        self.rewards: list[float] = []
        self.terminations: list[bool] = []
        self.truncations: list[bool] = []

    def __len__(self) -> int:
        return len(self.actions)

    def add(
        self,
        action: Any,
        reward: float,
        terminated: bool,
        truncated: bool,
        observation: Mapping[str, Any],
        info: Mapping[str, Any],
        state: Any = None,
    ) -> None:
        self.actions.append(np.array(action, copy=True))
        self.rewards.append(float(reward))
        self.terminations.append(bool(terminated))
        self.truncations.append(bool(truncated))
        self.observations.append(_copy_obs(observation))
        self.infos.append(dict(info))
        self.states.append(state)

    def truncate(self, n_steps: int) -> None:
        """Keep the first ``n_steps`` steps (and ``n_steps + 1`` observations)."""
        if not 0 <= n_steps <= len(self):
            raise ValueError(f"cannot truncate an episode of {len(self)} steps to {n_steps}")
        del self.actions[n_steps:], self.rewards[n_steps:], self.terminations[n_steps:], self.truncations[n_steps:]
        del self.observations[n_steps + 1 :], self.infos[n_steps + 1 :], self.states[n_steps + 1 :]

    @property
    def labelled_steps(self) -> int:
        return int(sum(bool(r.get("labelled", False)) for r in self.infos[1:]))

    def to_minari(self, episode_id: int, seed: int | None = None) -> Any:
        """A ``minari`` ``EpisodeBuffer`` of this episode (columns stacked)."""
        from minari.data_collector.episode_buffer import EpisodeBuffer

        if not self.actions:
            raise ValueError("an episode needs at least one step")
        return EpisodeBuffer(
            id=int(episode_id),
            seed=None if seed is None else int(seed),
            observations=_columns(self.observations),
            actions=np.stack([np.asarray(a) for a in self.actions]),
            rewards=list(self.rewards),
            terminations=list(self.terminations),
            truncations=list(self.truncations),
            infos=_columns(self.infos),
        )


def _copy_obs(observation: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in observation.items()}


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if list(row) != keys:
            raise ValueError(f"row {i} has keys {sorted(row)}, expected {sorted(keys)}")
    out: dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in rows]
        if all(isinstance(v, str) for v in values):
            out[key] = values
        else:
            out[key] = np.stack([np.asarray(v) for v in values])
    return out


@dataclass
class Episode:
    """One decoded episode (see :mod:`cliprt_data.storage` for the row conventions)."""

    index: int
    observations: dict[str, Any]
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    infos: dict[str, Any]
    meta: dict[str, Any]

    @property
    def n_steps(self) -> int:
        return int(len(self.actions))

    @property
    def instruction(self) -> str:
        return str(self.observations["instruction"][0]) if "instruction" in self.observations else ""

    @property
    def motion_ids(self) -> np.ndarray:
        """Motion id of each step (``-1`` where none), ``(N,)``."""
        return np.asarray(self.infos["motion_id"][1:], dtype=np.int64)

    @property
    def low_level_actions(self) -> np.ndarray:
        """The 8-D low-level action of each step, ``(N, 8)`` float32."""
        return np.asarray(self.infos["action"][1:], dtype=np.float32)

    @property
    def supervision(self) -> list[str]:
        return list(self.infos["supervision"][1:])

    @property
    def labelled(self) -> np.ndarray:
        return np.asarray(self.infos["labelled"][1:], dtype=bool)

    @property
    def step_kinds(self) -> list[str]:
        return list(self.infos["step_kind"][1:])

    @property
    def sim_states(self) -> np.ndarray | None:
        """``(N + 1, D)`` simulator state at each observation, or None."""
        states = self.infos.get("sim_state")
        return None if states is None else np.asarray(states, dtype=np.float64)
