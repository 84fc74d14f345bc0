"""A Gymnasium wrapper that records language-motion episodes into a dataset folder.

>>> env = DatasetRecorder(gym.make("CLIPRT-UR5Sim-Pick-v0"), "runs/pick-v0")
>>> obs, info = env.reset(seed=0)
>>> obs, r, term, trunc, info = env.step(12, supervision="move left a bit")

Each finished episode (terminated, truncated, :meth:`DatasetRecorder.end_episode`
or a new ``reset``) is written to disk at once, so a crash or Ctrl-C loses
only the episode in progress. Per step it stores the image, instruction,
supervision text, motion id, 8-D low-level action, proprio and, where the env
can save its state, the full simulator state (see :mod:`cliprt_data.storage`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt_data.storage import DatasetWriter, EpisodeBuilder, StorageConfig, build_metadata, info_row
from cliprt_envs.motions import Vocabulary, default_vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecorderConfig:
    """How a :class:`DatasetRecorder` records.

    ``source`` names where the data came from ("teleop", "collect", "policy")
    in the dataset metadata; ``step_kind`` is written for each step unless a
    step says otherwise. ``save_on_reset``: a ``reset`` in the middle of an
    episode saves it as truncated (Minari's convention) instead of dropping it.
    """

    storage: StorageConfig = StorageConfig()
    source: str = "policy"
    step_kind: str = "policy"
    record_sim_state: bool = True
    save_on_reset: bool = True
    save_failures: bool = True


class DatasetRecorder(gym.Wrapper):
    """Record every step of ``env`` into the dataset folder ``path``.

    ``append=True`` adds to an existing dataset after checking that it holds
    the same kind of data (observations, actions, env, vocabulary). A new
    dataset folder that got no episode by :meth:`close` is removed again, so
    a run that fails early leaves nothing for the next run to refuse.
    """

    def __init__(
        self, env: gym.Env, path: str | Path, *, append: bool = False, config: RecorderConfig = RecorderConfig()
    ) -> None:
        super().__init__(env)
        self.config = config
        base = env.unwrapped
        self.vocabulary: Vocabulary = getattr(base, "vocabulary", None) or default_vocabulary()
        self.continuous = bool(getattr(base, "continuous", False))
        self._can_save = config.record_sim_state and callable(getattr(base, "save_state", None))
        spec = env.spec
        task = getattr(getattr(base, "task", None), "name", None)
        metadata = build_metadata(
            source=config.source,
            vocabulary=self.vocabulary,
            env_id=spec.id if spec is not None else None,
            env_kwargs=dict(spec.kwargs) if spec is not None else {},
            task=task,
            has_sim_state=self._can_save,
            action_kind="continuous" if self.continuous else "motion",
            extra={"max_episode_steps": spec.max_episode_steps if spec is not None else None},
        )
        self.writer = DatasetWriter.open(
            path,
            append=append,
            observation_space=env.observation_space,
            action_space=env.action_space,
            metadata=metadata,
            config=config.storage,
            env_spec=spec,
        )
        self.path = self.writer.path
        self._episode: EpisodeBuilder | None = None
        self._seed: int | None = None
        self._extra: dict[str, Any] = {}
        self.episodes_written = 0
        self.steps_written = 0

    # -- gymnasium API ----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if self._episode is not None and len(self._episode):
            if self.config.save_on_reset:
                self.end_episode()
            else:
                self._episode = None
        obs, info = self.env.reset(seed=seed, options=options)
        state = self._save_state()
        row = info_row(
            step_kind="reset",
            is_success=bool(info.get("is_success", False)),
            sim_state=None if state is None else state.to_flat(),
        )
        self._episode = EpisodeBuilder(obs, row, state)
        self._seed = seed
        self._extra = {}
        return obs, info

    def step(
        self,
        action: Any,
        *,
        supervision: str | None = None,
        step_kind: str | None = None,
        labelled: bool | None = None,
        label: int | None = None,
    ) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env and record the step.

        ``supervision`` is the language the step was asked for, stored as
        given (default: the motion's own text). ``labelled=False`` keeps the
        step out of training labels. ``label`` is the motion id the step is
        labelled with when it is not the one executed (an expert's answer at
        this state while a policy drives, DAgger-style); the executed action
        stays in the episode's actions.
        """
        if self._episode is None:
            raise RuntimeError("call reset() before step(); the recorder records whole episodes")
        obs, reward, terminated, truncated, info = self.env.step(action)
        if label is None:
            motion_id, low_level = self._labels(action, info)
        else:
            motion_id, low_level = int(label), self.vocabulary.delta(int(label)).astype(np.float32)
        if supervision is None:
            supervision = self.vocabulary.text(motion_id) if motion_id >= 0 else ""
        state = self._save_state()
        row = info_row(
            supervision=supervision,
            motion_id=motion_id,
            action=low_level,
            achieved=info.get("achieved_delta"),
            labelled=(motion_id >= 0) if labelled is None else bool(labelled),
            step_kind=step_kind or self.config.step_kind,
            ik_failed=bool(info.get("ik_failed", False)),
            table_collision=bool(info.get("table_collision", False)),
            workspace_clamped=bool(info.get("workspace_clamped", False)),
            is_success=bool(info.get("is_success", False)),
            sim_state=None if state is None else state.to_flat(),
        )
        if isinstance(action, str):  # a text action is stored as the motion id it named (datasets hold numbers)
            action = int(info["motion_id"]) if int(info.get("motion_id", -1)) >= 0 else self.vocabulary.id_of(action)
        self._episode.add(action, reward, terminated, truncated, obs, row, state)
        if terminated or truncated:
            self.end_episode(discard=not (self.config.save_failures or row["is_success"]))
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Close the env; a dataset folder this recorder created but saved no episode into is removed."""
        if self._episode is not None and len(self._episode):
            log.warning("closing with an unfinished episode of %d steps; it was not saved", len(self._episode))
        self._episode = None
        try:
            self.writer.close()
        finally:
            super().close()

    # -- episode control --------------------------------------------------------
    @property
    def episode_steps(self) -> int:
        """Steps recorded in the episode in progress (0 when none)."""
        return 0 if self._episode is None else len(self._episode)

    @property
    def in_episode(self) -> bool:
        return self._episode is not None

    def annotate_episode(self, **values: Any) -> None:
        """Extra per-episode metadata (written with the episode)."""
        self._extra.update(values)

    def undo(self) -> Any:
        """Take back the last step: restore the state before it and forget it.

        Returns the observation in the restored state. In simulation the
        restore is exact; on a real robot it moves back to the saved pose.
        """
        ep = self._episode
        if ep is None or not len(ep):
            raise RuntimeError("nothing to undo: no step recorded in this episode")
        state = ep.states[-2]
        if state is None:
            raise RuntimeError("this env cannot save and restore its state, so steps cannot be undone")
        obs, _ = self.env.unwrapped.reset(options={"state": state})
        _rewind_time_limits(self.env)
        ep.truncate(len(ep) - 1)
        return obs

    def end_episode(
        self, *, success: bool | None = None, discard: bool = False, extra: dict[str, Any] | None = None
    ) -> int | None:
        """Finish the episode in progress: write it (returns its index) or drop it.

        ``success=None`` takes the env's own verdict at the last step. An
        episode a person ends is marked terminated when successful and
        truncated otherwise.
        """
        ep, self._episode = self._episode, None
        if ep is None or discard or not len(ep):
            return None
        if not (ep.terminations[-1] or ep.truncations[-1]):
            ok = bool(ep.infos[-1]["is_success"]) if success is None else bool(success)
            ep.terminations[-1] = ok
            ep.truncations[-1] = not ok
        extra_all = {"source": self.config.source, **self._extra, **(extra or {})}
        index = self.writer.write_episode(ep, seed=self._seed, success=success, extra=extra_all)
        self.episodes_written += 1
        self.steps_written += len(ep)
        return index

    # -- helpers -------------------------------------------------------------------
    def _save_state(self) -> Any:
        if not self._can_save:
            return None
        return self.env.unwrapped.save_state()

    def _labels(self, action: Any, info: dict[str, Any]) -> tuple[int, np.ndarray]:
        if self.continuous:
            delta = np.asarray(action, dtype=np.float32).reshape(8)
            nearest = self.vocabulary.nearest(delta)
            return (-1 if nearest is None else int(nearest)), delta
        motion_id = int(info.get("motion_id", -1))
        if motion_id < 0:
            motion_id = self.vocabulary.id_of(action) if isinstance(action, str) else int(action)
        return motion_id, self.vocabulary.delta(motion_id).astype(np.float32)


def _rewind_time_limits(env: gym.Env) -> None:
    """Give back one step to every TimeLimit wrapper (an undone step does not count).

    ``_elapsed_steps`` is private to Gymnasium's ``TimeLimit``; we touch it
    knowingly, because Gymnasium (checked: 1.x) has no public way to read or
    set the step count, and resetting through the wrapper would start the count again at zero.
    """
    e: Any = env
    while isinstance(e, gym.Wrapper):
        if isinstance(e, gym.wrappers.TimeLimit):
            e._elapsed_steps = max(0, int(e._elapsed_steps) - 1)
        e = e.env
