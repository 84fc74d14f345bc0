"""Per-step traces of benchmark episodes (``cliprt bench run --trace``): what went wrong, and where.

With ``BenchConfig.trace`` every finished episode adds one line to ``traces.jsonl``
beside ``episodes.jsonl``: the episode's key (agent, env id, seed, episode),
instruction, success and its ``steps``, one dict per step:

``t``                   the step number (1 = the first action)
``motion``, ``text``    the motion the policy chose
``expert``, ``expert_text``, ``match``
                        the task's scripted expert's motion at the same state (asked in the
                        env worker just before the step; ``None`` where the task has none)
``score``, ``top``      the policy's score for its motion and its 3 best motions with scores
                        (agents that score motions, :class:`~cliprt_agents.protocols.ScoringAgent`; else absent)
``expert_rank``         where the expert's motion ranks among the policy's scores (1 = its best)
``clamped``, ``ik_failed``, ``joint_limited``, ``collision``
                        what the env reported (workspace clamp, IK failure, joint limit, table contact)
``changed``             the step moved the robot (TCP pose, gripper) or the scene (objects, drawers)
``revisit``             the state after the step is one the episode was in before: an unchanged
                        step, or the way back of a back-and-forth
``moved``               what the episode has moved so far (sim tasks): ``"named"`` (the thing the
                        instruction names to act on), ``"other"`` (only other things), ``"named+other"``
                        or ``"nothing"`` (past ``cliprt_envs.sim.backend.MOVED``: 2 cm, a drawer 1 cm,
                        a lid 10 degrees); absent where the env cannot tell
``in_view``             the named thing's centre is inside the agent's camera image after the step
                        (projected, so something in front of it does not hide it); absent where
                        the env cannot tell

The trace line is appended, flushed and fsynced before the episode's record, so a
crash leaves whole lines (a torn last line is dropped); an episode run again after a
crash replaces its earlier line (:func:`load_traces` keeps the last).
Summaries per agent and task: :mod:`cliprt.evaluation.trace_summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt.evaluation.episode_log import EpisodeLog, episode_key, read_jsonl
from cliprt_agents.protocols import Agent, ScoringAgent
from cliprt_envs.motions import Vocabulary
from cliprt_envs.rotations import quat_wxyz_to_matrix

TRACES_FILE = "traces.jsonl"
TOP_K = 3
#: A step "changed" the state when some coordinate moved by more than this (m, rotation-matrix
#: entries, gripper opening 0..1, object joints): 1 mm, about 0.06 degrees.
CHANGE_TOLERANCE = 1e-3
#: The state after a step "revisits" an earlier one within this (3 mm; the smallest motion is 1 cm).
REVISIT_TOLERANCE = 3e-3
#: The info keys the env worker adds when tracing (see :class:`StateTrail` and :func:`expert_motion`).
EXPERT_KEY, CHANGED_KEY, REVISIT_KEY, MOVED_KEY = "trace_expert", "trace_changed", "trace_revisit", "trace_moved"
IN_VIEW_KEY = "trace_in_view"
#: trace step key -> the env's info key (LanguageMotionEnv._step_info)
ENV_FLAGS = {
    "clamped": "workspace_clamped",
    "ik_failed": "ik_failed",
    "joint_limited": "joint_limited",
    "collision": "table_collision",
}


# -- in the env worker (ScheduledEpisodes) --------------------------------------------------


def expert_motion(env: gym.Env) -> int:
    """The scripted expert's motion id at the env's current state; -1 where the task has none.

    Experts are stateless and only read the simulator, so asking changes neither the
    state nor any random generator. A diagnostic must not end a benchmark: an expert
    that cannot answer in a state a policy led it to counts as no answer.
    """
    env = env.unwrapped
    task = getattr(env, "task", None)
    if task is None or not getattr(task, "has_expert", hasattr(task, "expert_action")):
        return -1
    try:
        return int(env.expert_action())
    except Exception:  # see the docstring
        return -1


def state_vector(env: gym.Env) -> np.ndarray:
    """What a step can change: TCP position and rotation, gripper opening, and the objects' joints."""
    env = env.unwrapped
    parts = []
    if hasattr(env, "proprio"):
        p = np.asarray(env.proprio(), dtype=np.float64)
        parts += [p[:3], quat_wxyz_to_matrix(p[3:7]).ravel(), p[7:]]
    signature = getattr(getattr(env, "backend", None), "scene_signature", None)
    if callable(signature):
        parts.append(np.asarray(signature(), dtype=np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


def scene_start(env: gym.Env) -> tuple[tuple[float, ...], str] | None:
    """The scene's signature now and the body the instruction names; None where the env cannot tell."""
    env = env.unwrapped
    backend, task = getattr(env, "backend", None), getattr(env, "task", None)
    if not hasattr(backend, "moved_bodies") or not hasattr(task, "target_body"):
        return None
    return backend.scene_signature(), task.target_body()


def moved_since(env: gym.Env, start: tuple[tuple[float, ...], str]) -> str:
    """What the episode has moved since ``start`` (:func:`scene_start`): named, other, named+other or nothing."""
    signature, target = start
    moved = env.unwrapped.backend.moved_bodies(signature)
    named, other = target in moved, any(body != target for body in moved)
    return "+".join(k for k, v in (("named", named), ("other", other)) if v) or "nothing"


def named_in_view(env: gym.Env, target: str) -> bool | None:
    """Whether the body ``target`` is inside the agent's camera image now; None where the env cannot tell."""
    env = env.unwrapped
    camera, backend = getattr(env, "camera", None), getattr(env, "backend", None)
    if not hasattr(camera, "sees") or not hasattr(backend, "object_position"):
        return None
    return camera.sees(backend.object_position(target))


class StateTrail:
    """The states of the current episode: did a step change the state, come back to an old one, move what?"""

    def __init__(self) -> None:
        self._states: list[np.ndarray] = []
        self._start: tuple[tuple[float, ...], str] | None = None

    def reset(self, env: gym.Env) -> None:
        self._states = [state_vector(env)]
        self._start = scene_start(env)

    def step(self, env: gym.Env) -> dict[str, Any]:
        """The info the traced step adds: ``trace_changed``, ``trace_revisit``; ``trace_moved``, ``trace_in_view`` where known."""
        state = state_vector(env)
        named: dict[str, Any] = {}  # what the sim knows about the named thing
        if self._start is not None:
            named[MOVED_KEY] = moved_since(env, self._start)
            if (seen := named_in_view(env, self._start[1])) is not None:
                named[IN_VIEW_KEY] = seen
        if not self._states or self._states[0].shape != state.shape:
            self._states = [state]
            return {CHANGED_KEY: True, REVISIT_KEY: False, **named}
        changed = bool(np.max(np.abs(state - self._states[-1]), initial=0.0) > CHANGE_TOLERANCE)
        distances = np.max(np.abs(np.stack(self._states) - state), axis=1, initial=0.0)
        revisit = bool(np.any(distances <= REVISIT_TOLERANCE))
        self._states.append(state)
        return {CHANGED_KEY: changed, REVISIT_KEY: revisit, **named}


# -- in the runner --------------------------------------------------------------------------


def _info_value(info: dict, key: str, i: int, default: Any) -> Any:
    """Env ``i``'s value of ``key`` in a vector env's info (``default`` where it has none)."""
    values, mask = info.get(key), info.get(f"_{key}")
    if values is None or (mask is not None and not mask[i]):
        return default
    return values[i]


class StepTracer:
    """Turns each step of a vector env into trace steps; the runner keeps them per slot."""

    def __init__(self, agent: Agent, vocabulary: Vocabulary, num_envs: int) -> None:
        self.scoring = isinstance(agent, ScoringAgent) and not agent.needs_env
        self.vocabulary = vocabulary
        self.num_envs = num_envs
        self._scores: np.ndarray | None = None

    def score(self, agent: Agent, view: dict) -> None:
        """A scoring agent's per-motion scores of the batch it has just acted on.

        An agent that keeps the scores behind its last act (``last_scores``) is not asked again:
        asking would run its model a second time each step.
        """
        if self.scoring:
            kept = getattr(agent, "last_scores", None)
            scores = kept if kept is not None else agent.scores(view)  # type: ignore[attr-defined]
            self._scores = np.asarray(scores, dtype=np.float64).reshape(self.num_envs, -1)

    def step(self, i: int, t: int, action: int, info: dict) -> dict:
        """Env ``i``'s step number ``t``, from its action and the vector env's ``info`` after it."""
        motion = int(action)
        expert = int(_info_value(info, EXPERT_KEY, i, -1))
        step: dict[str, Any] = {"t": t, "motion": motion, "text": self._text(motion)}
        step["expert"] = expert if expert >= 0 else None
        step["expert_text"] = self._text(expert) if expert >= 0 else None
        step["match"] = motion == expert if expert >= 0 else None
        if self._scores is not None:
            step.update(self._scored(self._scores[i], motion, expert))
        for name, key in ENV_FLAGS.items():
            step[name] = bool(_info_value(info, key, i, False))
        step["changed"] = bool(_info_value(info, CHANGED_KEY, i, True))
        step["revisit"] = bool(_info_value(info, REVISIT_KEY, i, False))
        moved = _info_value(info, MOVED_KEY, i, None)
        if moved is not None:
            step["moved"] = str(moved)
        in_view = _info_value(info, IN_VIEW_KEY, i, None)
        if in_view is not None:
            step["in_view"] = bool(in_view)
        return step

    def _text(self, motion: int) -> str | None:
        return self.vocabulary.text(motion) if 0 <= motion < len(self.vocabulary) else None

    def _scored(self, row: np.ndarray, motion: int, expert: int) -> dict:
        top = np.argsort(-row, kind="stable")[:TOP_K]
        out: dict[str, Any] = {
            "score": round(float(row[motion]), 6) if 0 <= motion < len(row) else None,
            "top": [{"id": int(k), "text": self._text(int(k)), "score": round(float(row[k]), 6)} for k in top],
        }
        if 0 <= expert < len(row):
            out["expert_rank"] = 1 + int(np.sum(row > row[expert]))
        return out


def trace_line(record: dict, steps: list[dict]) -> dict:
    """An episode's trace line: the key fields of its record and its steps."""
    keys = ("agent", "env_id", "seed", "episode", "init_state_index", "instruction", "success")
    return {**{k: record[k] for k in keys}, "steps": steps}


class TraceLog(EpisodeLog):
    """``traces.jsonl``: appended and fsynced one episode at a time, like ``episodes.jsonl``."""

    def __init__(self, out: Path, *, repair: bool = True) -> None:
        super().__init__(out, TRACES_FILE, repair=repair)


def load_traces(out: Path) -> dict[str, dict]:
    """The folder's traces by episode key (for an episode traced twice, the last line)."""
    out_: dict[str, dict] = {}
    for t in read_jsonl(Path(out) / TRACES_FILE):
        if isinstance(t, dict) and isinstance(t.get("steps"), list) and {"agent", "env_id", "seed", "episode"} <= set(t):
            out_[episode_key(t["agent"], t["env_id"], t["seed"], t["episode"])] = t
    return out_
