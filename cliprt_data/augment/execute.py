"""STA execution: runs a plan in the env, records every step, checks it stays on the demonstration's path."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cliprt_data.augment.plan import (
    Segment,
    STAConfig,
    deviation_magnitudes,
    diversify,
    inverse,
    sample_deviation,
    segments,
)
from cliprt_data.storage import (
    Episode,
    EpisodeBuilder,
    info_row,
)
from cliprt_envs.motions import Vocabulary


class TrajectoryFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class AugmentStats:
    """Counters of one augmentation run (per task)."""

    demos: int = 0
    demos_skipped: int = 0
    demo_transitions: int = 0
    requested: int = 0
    kept: int = 0
    attempts: int = 0
    dropped: int = 0
    drop_reasons: Counter = field(default_factory=Counter)
    transitions_added: int = 0
    steps_recorded: int = 0
    steps_executed: int = 0
    segment_resamples: int = 0
    deviation_resamples: int = 0
    recoveries: int = 0
    recoveries_skipped: int = 0
    resample_reasons: Counter = field(default_factory=Counter)
    relabelled: int = 0  # labels of kept trajectories that differ from the executed STA motion (expert labels only)

    def as_dict(self) -> dict[str, Any]:
        out = {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}
        out["success_rate"] = self.kept / self.attempts if self.attempts else None
        return out


def scene_signature(env: Any) -> np.ndarray:
    """Positions of everything in the scene that is not the robot, from the backend; empty where it has none.

    Used to notice a knocked or moved object (see ``MujocoUR5Backend.scene_signature``).
    """
    signature = getattr(getattr(env, "backend", None), "scene_signature", None)
    return np.asarray(signature() if signature is not None else (), dtype=np.float64)


@dataclass(frozen=True)
class _Snapshot:
    tcp: np.ndarray
    gripper: float
    scene: np.ndarray


def _snapshot(env: Any) -> _Snapshot:
    """Where the arm, the gripper and the scene are now."""
    proprio = env.proprio()
    return _Snapshot(proprio[:3].astype(np.float64), float(proprio[7]), scene_signature(env))


class _Run:
    """One augmented trajectory being executed and recorded."""

    def __init__(self, env: Any, vocabulary: Vocabulary, config: STAConfig, stats: AugmentStats, max_steps: int) -> None:
        self.env = env
        self.vocab = vocabulary
        self.config = config
        self.stats = stats
        self.max_steps = max_steps
        self.builder: EpisodeBuilder | None = None
        self.executed = 0

    def start(self, state: Any) -> None:
        obs, info = self.env.reset(options={"state": state})
        row = info_row(step_kind="reset", is_success=bool(info.get("is_success")), sim_state=self.env.save_state().to_flat())
        self.builder = EpisodeBuilder(obs, row)

    def snapshot(self) -> _Snapshot:
        return _snapshot(self.env)

    def checkpoint(self) -> tuple[Any, int]:
        """The env's state and the episode's length, to roll back to."""
        assert self.builder is not None
        return self.env.save_state(), len(self.builder)

    def step(self, motion_id: int, kind: str, segment: int, *, strict: bool = True) -> dict[str, Any]:
        """Execute and record one motion; raise ``TrajectoryFailed`` on a failure flag when ``strict``."""
        self.executed += 1
        self.stats.steps_executed += 1
        if self.executed > self.max_steps:
            raise TrajectoryFailed("too_many_steps")
        labelled = kind != "deviate"
        label = self.label(motion_id) if labelled else int(motion_id)  # asked before the step: at its state
        obs, reward, _, _, info = self.env.step(int(motion_id))
        row = info_row(
            supervision=self.vocab.text(label),
            motion_id=label,
            action=self.vocab.delta(label),
            achieved=info.get("achieved_delta"),
            labelled=labelled,
            demonstrated=labelled,
            step_kind=kind,
            ik_failed=bool(info.get("ik_failed")),
            table_collision=bool(info.get("table_collision")),
            workspace_clamped=bool(info.get("workspace_clamped")),
            is_success=bool(info.get("is_success")),
            segment=segment,
            sim_state=self.env.save_state().to_flat(),
        )
        assert self.builder is not None
        self.builder.add(int(motion_id), reward, False, False, obs, row)
        if strict:
            for flag in ("ik_failed", "table_collision", "workspace_clamped"):
                if row[flag]:
                    raise TrajectoryFailed(flag)
        return row

    def label(self, motion_id: int) -> int:
        """The label of a step that is about to execute ``motion_id``: that motion, or the expert's at this state."""
        if self.config.labels == "expert":
            return int(self.env.expert_action())
        return int(motion_id)

    def same_place(self, a: _Snapshot, b: _Snapshot) -> str | None:
        """Why two snapshots differ (tcp, gripper or scene), or None."""
        if np.max(np.abs(a.tcp - b.tcp)) > self.config.track_tolerance_m:
            return "off_track"
        if abs(a.gripper - b.gripper) > self.config.gripper_tolerance:
            return "gripper_changed"
        if a.scene.shape == b.scene.shape and a.scene.size and np.max(np.abs(a.scene - b.scene)) > self.config.scene_tolerance:
            return "object_moved"
        return None

    def rollback(self, state: Any, n_steps: int) -> None:
        self.env.restore_state(state)
        assert self.builder is not None
        self.builder.truncate(n_steps)


def augment_demo(
    env: Any,
    demo: Episode,
    vocabulary: Vocabulary,
    config: STAConfig,
    rng: np.random.Generator,
    stats: AugmentStats,
) -> EpisodeBuilder:
    """One augmented trajectory of ``demo`` (raises ``TrajectoryFailed`` with a reason).

    ``env`` is the unwrapped :class:`~cliprt_envs.language_env.LanguageMotionEnv`.
    """
    augmentation = _Augmentation(env, demo, vocabulary, config, rng, stats)
    for seg in segments(augmentation.motion_ids, vocabulary):
        augmentation.segment(seg)
    return augmentation.finish()


class _Augmentation:
    """Executes the plan of one augmented trajectory: per segment, a diversified route, then recoveries and fine moves."""

    def __init__(
        self,
        env: Any,
        demo: Episode,
        vocabulary: Vocabulary,
        config: STAConfig,
        rng: np.random.Generator,
        stats: AugmentStats,
    ) -> None:
        from cliprt_envs.language_env import EnvState

        states = demo.sim_states
        if states is None:
            raise ValueError("the demonstration has no simulator states; STA needs a recording from a simulator")
        check_labelling(env, config)
        self.vocab = vocabulary
        self.config = config
        self.rng = rng
        self.stats = stats
        self.motion_ids = [int(m) for m in demo.motion_ids]
        flags = ("ik_failed", "table_collision", "workspace_clamped")
        self.demo_flags = {k: np.asarray(demo.infos[k][1:], dtype=bool) for k in flags}
        self.targets = _demo_targets(env, states, demo.instruction)
        self.run = _Run(env, vocabulary, config, stats, max_steps=config.max_steps_factor * max(1, len(self.motion_ids)))
        self.run.start(EnvState.from_flat(states[0], demo.instruction))
        self.mags = deviation_magnitudes(vocabulary, config)

    def segment(self, seg: Segment) -> None:
        config = self.config
        if seg.gripper:
            if config.deviate_before_gripper and config.n_fine > 0:
                self.recovery(self.motion_ids[seg.start], seg)
            self.fine_step(seg.start, seg)
            return
        n_fine = min(config.n_fine, len(seg))
        prefix = self.motion_ids[seg.start : seg.end - n_fine]
        if prefix:
            self.diversified(prefix, seg, self.targets[seg.end - n_fine])
        for t in range(seg.end - n_fine, seg.end):
            self.recovery(self.motion_ids[t], seg)
            self.fine_step(t, seg)

    def fine_step(self, t: int, seg: Segment) -> None:
        """The demonstration's own move ``t``; it must end where the demonstration did."""
        run = self.run
        strict_flags = {f for f in self.demo_flags if not self.demo_flags[f][t]}
        row = run.step(self.motion_ids[t], "demo", seg.index, strict=False)
        for flag in strict_flags:
            if row[flag]:
                raise TrajectoryFailed(flag)
        why = run.same_place(run.snapshot(), self.targets[t + 1])
        if why:
            raise TrajectoryFailed(why)

    def diversified(self, prefix: list[int], seg: Segment, target: _Snapshot) -> None:
        """Re-sampled moves to where ``prefix`` led; retried from the same state, then the trajectory fails."""
        run, stats, retries = self.run, self.stats, self.config.segment_retries
        saved, n0 = run.checkpoint()
        for attempt in range(retries + 1):
            plan = diversify(prefix, self.vocab, self.rng)
            try:
                for mid in plan:
                    run.step(mid, "diversify", seg.index)
                why = run.same_place(run.snapshot(), target)
                if why:
                    raise TrajectoryFailed(why)
                return
            except TrajectoryFailed as exc:
                if exc.reason == "too_many_steps" or attempt == retries:
                    raise
                stats.segment_resamples += 1
                stats.resample_reasons[f"segment:{exc.reason}"] += 1
                run.rollback(saved, n0)

    def recovery(self, fine_id: int, seg: Segment) -> None:
        """A deviation before fine move ``fine_id`` and its reversal; re-sampled smaller, or skipped."""
        run, stats = self.run, self.stats
        saved, n0 = run.checkpoint()
        here = run.snapshot()
        for attempt in range(self.config.deviation_retries + 1):
            allowed = self.mags[: max(1, len(self.mags) - attempt)]
            deviation = sample_deviation(self.vocab, fine_id, allowed, self.rng, own_axis=attempt < 2)
            why = self._deviate_and_return(deviation, seg, here)
            if why is None:
                stats.recoveries += 1
                return
            stats.deviation_resamples += 1
            stats.resample_reasons[f"deviation:{why}"] += 1
            run.rollback(saved, n0)
        stats.recoveries_skipped += 1

    def _deviate_and_return(self, deviation: list[int], seg: Segment, here: _Snapshot) -> str | None:
        """Execute ``deviation`` and its reversal; why the arm did not come back to ``here``, or None."""
        run = self.run
        try:
            for mid in deviation:
                run.step(mid, "deviate", seg.index)
            for mid in reversed(deviation):
                run.step(inverse(self.vocab, mid), "recover", seg.index)
            return run.same_place(run.snapshot(), here)
        except TrajectoryFailed as exc:
            if exc.reason == "too_many_steps":
                raise
            return exc.reason

    def finish(self) -> EpisodeBuilder:
        builder = self.run.builder
        assert builder is not None
        success = bool(builder.infos[-1]["is_success"])
        if self.config.require_success and not success:
            raise TrajectoryFailed("not_successful")
        builder.terminations[-1] = success
        builder.truncations[-1] = not success
        return builder


def check_labelling(env: Any, config: STAConfig) -> None:
    """Refuse expert labels at once where the env's task has no scripted expert (``env`` unwrapped)."""
    if config.labels != "expert":
        return
    task = getattr(env, "task", None)
    if task is None or not getattr(task, "has_expert", hasattr(task, "expert_action")):
        name = type(task).__name__ if task is not None else type(env).__name__
        raise ValueError(
            f"expert labels (--labels expert) need the task's scripted expert, and {name} has none "
            "(only the sim tasks have one); use --labels heuristic"
        )


def relabelled_steps(builder: EpisodeBuilder) -> int:
    """Labelled steps whose label is not the motion executed there (0 with heuristic labels)."""
    rows = builder.infos[1:]
    return sum(bool(r["labelled"]) and int(r["motion_id"]) != int(a) for r, a in zip(rows, builder.actions))


def _demo_targets(env: Any, states: np.ndarray, instruction: str) -> list[_Snapshot]:
    """Where the demonstration was at every state (restored without rendering)."""
    from cliprt_envs.language_env import EnvState

    targets = []
    for flat in states:
        env.restore_state(EnvState.from_flat(flat, instruction))
        targets.append(_snapshot(env))
    return targets
