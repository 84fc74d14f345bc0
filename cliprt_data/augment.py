"""Stochastic trajectory augmentation (STA; the CLIP-RT paper, Sec. III-C and Appendix E).

For each demonstration, STA produces ``per_demo`` new trajectories that reach
the same waypoints by other routes, and that show how to come back after a
deviation. It runs in the env itself, restarting from the recorded simulator
states (``reset(options={"state": ...})``), so it works on any backend that
can save and restore its state.

Waypoints are the states where the gripper changes, or where the cumulative
progress on some axis reverses. Between two waypoints, a segment is handled in
two alternating phases:

- **Diversification**: all but the last ``n_fine`` moves of the segment are
  summed per position axis and re-sampled as a random sequence of the
  vocabulary's magnitudes (same sign, never overshooting, summing exactly to
  the demonstration's displacement), in a random interleaving of axes.
  Rotations keep their order (rotations about different axes do not
  commute). Every visited state is recorded with the sampled motion as label.
- **Recovery**: before each of the last ``n_fine`` moves (the fine moves),
  the arm deviates on every position axis (by minus the fine move on its own
  axis, by a random +-magnitude on the others), then executes the reversal.
  Only the recovery steps are labels (image in the deviated state, reversal
  motion); the deviation steps are kept in the episode so it stays a
  physically consistent trajectory, but with ``labelled=False`` and
  ``demonstrated=False``. Then the fine move itself is executed.

Every segment therefore moves the arm by exactly the demonstration's
displacement. A deviation that fails (IK, table contact, safety-box clamp,
the scene not back where it was) is rolled back to the saved state and
re-sampled with smaller magnitudes, or skipped; a diversified segment that
goes wrong is re-sampled; a trajectory that still fails, leaves the
demonstration's path, knocks something or does not succeed at the end is
dropped and counted by reason.

Details from the authors' early code that we follow:
the split at gripper changes, the last 3 fine actions, per-axis draws from
the magnitudes below the largest, deviations of minus the fine move on its
own axis. Our choices where nothing is published: uniform draws among the
magnitudes that keep the remainder reachable; deviations ordered upward
first / downward last, so the reversal leaves the object area upward; up to
``deviation_retries`` re-samples before a recovery is skipped.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.storage import (
    DatasetInfo,
    DatasetReader,
    DatasetWriter,
    Episode,
    EpisodeBuilder,
    StorageConfig,
    build_metadata,
    info_row,
    same_space,
)
from cliprt_envs.motions import POSITION_AXES, Vocabulary

_AXIS_INDEX = {a: i for i, a in enumerate(("x", "y", "z", "roll", "pitch", "yaw", "gripper_rotation"))}
_QUANTUM = 1e-4  # metres / radians: the grid on which displacements are decomposed


@dataclass(frozen=True)
class STAConfig:
    """How STA augments (defaults follow the paper where it says).

    ``deviation_magnitudes``: position magnitudes (metres) for deviations on
    the axes the fine move does not use; None means the vocabulary's position
    magnitudes except the largest ({1, 5, 10} cm for the paper's vocabulary).
    """

    per_demo: int = 3
    n_fine: int = 3
    attempts_per_trajectory: int = 3
    segment_retries: int = 3
    deviation_retries: int = 3
    deviation_magnitudes: tuple[float, ...] | None = None
    deviate_before_gripper: bool = True
    track_tolerance_m: float = 0.004
    scene_tolerance: float = 0.01
    gripper_tolerance: float = 0.15
    require_success: bool = True
    max_steps_factor: int = 25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.per_demo < 0:
            raise ValueError(f"per_demo must be >= 0, got {self.per_demo}")
        if self.n_fine < 0:
            raise ValueError(f"n_fine must be >= 0, got {self.n_fine}")
        if self.attempts_per_trajectory < 1:
            raise ValueError("attempts_per_trajectory must be >= 1")


# -- planning (pure functions, no env) ------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Steps ``start .. end - 1`` of a demonstration, between two waypoints."""

    index: int
    start: int
    end: int
    gripper: bool

    def __len__(self) -> int:
        return self.end - self.start


def find_waypoints(motion_ids: Sequence[int], vocabulary: Vocabulary) -> list[int]:
    """State indices of the waypoints of a demonstration (always 0 and its length).

    A waypoint is the state before and after a gripper change, and the state
    before a move that reverses the direction of progress on an axis. We
    apply the reversal test to rotation axes too, so that every segment is
    monotone on every axis and re-sampling never cancels moves.
    """
    n = len(motion_ids)
    points = {0, n}
    signs: dict[str, int] = {}
    for t, mid in enumerate(motion_ids):
        motion = vocabulary[int(mid)]
        if motion.is_gripper:
            points.update((t, t + 1))
            signs = {}
            continue
        previous = signs.get(motion.axis)
        if previous is not None and previous != motion.sign:
            points.add(t)
            signs = {}
        signs[motion.axis] = motion.sign
    return sorted(points)


def segments(motion_ids: Sequence[int], vocabulary: Vocabulary) -> list[Segment]:
    """The demonstration cut at its waypoints."""
    points = find_waypoints(motion_ids, vocabulary)
    out = []
    for a, b in itertools.pairwise(points):
        if b > a:
            gripper = b - a == 1 and vocabulary[int(motion_ids[a])].is_gripper
            out.append(Segment(len(out), a, b, gripper))
    return out


def decompose(total: float, levels: Sequence[float], rng: np.random.Generator) -> list[float] | None:
    """A random sequence of ``levels`` summing exactly to ``total`` (>= 0); None if impossible.

    Draws uniformly among the magnitudes that do not overshoot and keep the
    remainder reachable, so it never gets stuck (e.g. 6 = 2+2+2 with {2, 5}).
    """
    units = [round(lv / _QUANTUM) for lv in levels]
    goal = round(total / _QUANTUM)
    if goal == 0:
        return []
    reachable = np.zeros(goal + 1, dtype=bool)
    reachable[0] = True
    for r in range(1, goal + 1):
        reachable[r] = any(u <= r and reachable[r - u] for u in units)
    if not reachable[goal]:
        return None
    out: list[float] = []
    r = goal
    while r > 0:
        options = [k for k, u in enumerate(units) if u <= r and reachable[r - u]]
        k = options[int(rng.integers(len(options)))]
        out.append(float(levels[k]))
        r -= units[k]
    return out


def diversify(motion_ids: Sequence[int], vocabulary: Vocabulary, rng: np.random.Generator) -> list[int]:
    """A new motion sequence with the same total displacement as ``motion_ids`` (one monotone segment)."""
    totals = dict.fromkeys(POSITION_AXES, 0.0)
    rotations: list[int] = []
    for mid in motion_ids:
        m = vocabulary[int(mid)]
        if m.axis in POSITION_AXES:
            totals[m.axis] += m.value
        else:
            rotations.append(int(mid))
    pieces: list[int] = []
    for axis, total in totals.items():
        if abs(total) < _QUANTUM / 2:
            continue
        sign = 1 if total > 0 else -1
        levels = vocabulary.axis_levels(axis)
        parts = decompose(abs(total), levels, rng)
        if parts is None:  # not expressible otherwise: keep the demonstration's own moves on this axis
            pieces.extend(int(mid) for mid in motion_ids if vocabulary[int(mid)].axis == axis)
            continue
        for mag in parts:
            level = int(np.argmin([abs(mag - lv) for lv in levels]))
            mid = vocabulary.find(axis, sign, level)
            assert mid is not None
            pieces.append(mid)
    order = rng.permutation(len(pieces))
    plan = [pieces[i] for i in order]
    slots = np.sort(rng.integers(len(plan) + 1, size=len(rotations)))
    for k, (slot, mid) in enumerate(zip(slots, rotations)):  # random places, same relative order
        plan.insert(int(slot) + k, mid)
    return plan


def inverse(vocabulary: Vocabulary, motion_id: int) -> int:
    """The motion that undoes ``motion_id`` (same axis and magnitude, opposite sign)."""
    m = vocabulary[int(motion_id)]
    if m.is_gripper:
        raise ValueError("a gripper command has no inverse motion in STA")
    mid = vocabulary.find(m.axis, -m.sign, m.level)
    if mid is None:
        raise ValueError(f"vocabulary {vocabulary.name!r} has no inverse of {m.text!r}")
    return mid


def sample_deviation(
    vocabulary: Vocabulary,
    fine_id: int,
    magnitudes: Sequence[float],
    rng: np.random.Generator,
    *,
    own_axis: bool = True,
) -> list[int]:
    """Deviation motions before fine move ``fine_id``: minus the fine move on its axis, random on the others.

    Ordered with upward moves first and downward moves last, so the reversal
    (executed in reverse order) first rises away from the table and objects.
    ``own_axis=False`` leaves the fine move's axis alone (used on retries:
    minus "raise 10 cm" next to the table is not a deviation the arm can make).
    """
    fine = vocabulary[int(fine_id)]
    moves: list[int] = []
    if not fine.is_gripper and own_axis:
        moves.append(inverse(vocabulary, fine_id))
    levels = vocabulary.position_magnitudes
    for axis in POSITION_AXES:
        if not fine.is_gripper and axis == fine.axis:
            continue
        mag = float(magnitudes[int(rng.integers(len(magnitudes)))])
        level = int(np.argmin([abs(mag - lv) for lv in levels]))
        mid = vocabulary.find(axis, 1 if rng.random() < 0.5 else -1, level)
        if mid is not None:
            moves.append(mid)
    rng.shuffle(moves)

    def rank(mid: int) -> int:
        m = vocabulary[mid]
        return 0 if (m.axis == "z" and m.sign > 0) else 2 if (m.axis == "z" and m.sign < 0) else 1

    return sorted(moves, key=rank)


# -- running in the env ------------------------------------------------------------------


class _TrajectoryFailed(Exception):
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

    def as_dict(self) -> dict[str, Any]:
        out = {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}
        out["success_rate"] = self.kept / self.attempts if self.attempts else None
        return out


def scene_signature(env: Any) -> np.ndarray:
    """Positions of everything in the scene that is not the robot (MuJoCo backends), else empty.

    Free bodies contribute their position, hinge and slide joints (drawers,
    doors) their value. Used to notice a knocked or moved object.
    """
    backend = getattr(env, "backend", None)
    model, data = getattr(backend, "model", None), getattr(backend, "data", None)
    if model is None or data is None:
        return np.zeros(0)
    robot = set(np.asarray(getattr(backend, "arm_qadr", []), dtype=int).tolist())
    robot |= set(np.asarray(getattr(backend, "finger_qadr", []), dtype=int).tolist())
    values: list[float] = []
    for j in range(model.njnt):
        adr = int(model.jnt_qposadr[j])
        if adr in robot:
            continue
        kind = int(model.jnt_type[j])
        if kind == 0:  # free joint: position only
            values.extend(data.qpos[adr : adr + 3].tolist())
        elif kind in (2, 3):  # slide, hinge
            values.append(float(data.qpos[adr]))
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class _Snapshot:
    tcp: np.ndarray
    gripper: float
    scene: np.ndarray


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
        proprio = self.env.proprio()
        return _Snapshot(proprio[:3].astype(np.float64), float(proprio[7]), scene_signature(self.env))

    def step(self, motion_id: int, kind: str, segment: int, *, strict: bool = True) -> dict[str, Any]:
        """Execute and record one motion; raise ``_TrajectoryFailed`` on a failure flag when ``strict``."""
        self.executed += 1
        self.stats.steps_executed += 1
        if self.executed > self.max_steps:
            raise _TrajectoryFailed("too_many_steps")
        obs, reward, _, _, info = self.env.step(int(motion_id))
        labelled = kind != "deviate"
        row = info_row(
            supervision=self.vocab.text(motion_id),
            motion_id=motion_id,
            action=self.vocab.delta(motion_id),
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
                    raise _TrajectoryFailed(flag)
        return row

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
    """One augmented trajectory of ``demo`` (raises ``_TrajectoryFailed`` with a reason).

    ``env`` is the unwrapped :class:`~cliprt_envs.language_env.LanguageMotionEnv`.
    """
    from cliprt_envs.language_env import EnvState

    states = demo.sim_states
    if states is None:
        raise ValueError("the demonstration has no simulator states; STA needs a recording from a simulator")
    motion_ids = [int(m) for m in demo.motion_ids]
    instruction = demo.instruction
    demo_flags = {k: np.asarray(demo.infos[k][1:], dtype=bool) for k in ("ik_failed", "table_collision", "workspace_clamped")}
    # Where the demonstration was at every state (restore without rendering).
    targets: list[_Snapshot] = []
    for flat in states:
        env.restore_state(EnvState.from_flat(flat, instruction))
        p = env.proprio()
        targets.append(_Snapshot(p[:3].astype(np.float64), float(p[7]), scene_signature(env)))

    run = _Run(env, vocabulary, config, stats, max_steps=config.max_steps_factor * max(1, len(motion_ids)))
    run.start(EnvState.from_flat(states[0], instruction))
    mags = _deviation_magnitudes(vocabulary, config)

    def fine_step(t: int, seg: Segment) -> None:
        strict_flags = {f for f in demo_flags if not demo_flags[f][t]}
        row = run.step(motion_ids[t], "demo", seg.index, strict=False)
        for flag in strict_flags:
            if row[flag]:
                raise _TrajectoryFailed(flag)
        why = run.same_place(run.snapshot(), targets[t + 1])
        if why:
            raise _TrajectoryFailed(why)

    def recovery(fine_id: int, seg: Segment) -> None:
        saved = env.save_state()
        n0 = len(run.builder)
        here = run.snapshot()
        for attempt in range(config.deviation_retries + 1):
            allowed = mags[: max(1, len(mags) - attempt)]
            deviation = sample_deviation(vocabulary, fine_id, allowed, rng, own_axis=attempt < 2)
            why = None
            try:
                for mid in deviation:
                    run.step(mid, "deviate", seg.index)
                for mid in reversed(deviation):
                    run.step(inverse(vocabulary, mid), "recover", seg.index)
                why = run.same_place(run.snapshot(), here)
            except _TrajectoryFailed as exc:
                if exc.reason == "too_many_steps":
                    raise
                why = exc.reason
            if why is None:
                stats.recoveries += 1
                return
            stats.deviation_resamples += 1
            stats.resample_reasons[f"deviation:{why}"] += 1
            run.rollback(saved, n0)
        stats.recoveries_skipped += 1

    for seg in segments(motion_ids, vocabulary):
        if seg.gripper:
            if config.deviate_before_gripper and config.n_fine > 0:
                recovery(motion_ids[seg.start], seg)
            fine_step(seg.start, seg)
            continue
        n_fine = min(config.n_fine, len(seg))
        prefix = motion_ids[seg.start : seg.end - n_fine]
        if prefix:
            saved = env.save_state()
            n0 = len(run.builder)
            for attempt in range(config.segment_retries + 1):
                plan = diversify(prefix, vocabulary, rng)
                try:
                    for mid in plan:
                        run.step(mid, "diversify", seg.index)
                    why = run.same_place(run.snapshot(), targets[seg.end - n_fine])
                    if why:
                        raise _TrajectoryFailed(why)
                    break
                except _TrajectoryFailed as exc:
                    if exc.reason == "too_many_steps" or attempt == config.segment_retries:
                        raise
                    stats.segment_resamples += 1
                    stats.resample_reasons[f"segment:{exc.reason}"] += 1
                    run.rollback(saved, n0)
        for t in range(seg.end - n_fine, seg.end):
            recovery(motion_ids[t], seg)
            fine_step(t, seg)

    builder = run.builder
    assert builder is not None
    success = bool(builder.infos[-1]["is_success"])
    if config.require_success and not success:
        raise _TrajectoryFailed("not_successful")
    builder.terminations[-1] = success
    builder.truncations[-1] = not success
    return builder


def _deviation_magnitudes(vocabulary: Vocabulary, config: STAConfig) -> list[float]:
    if config.deviation_magnitudes is not None:
        mags = sorted(float(m) for m in config.deviation_magnitudes)
    else:
        levels = list(vocabulary.position_magnitudes)
        mags = levels[:-1] if len(levels) > 1 else levels
    if not mags:
        raise ValueError("STA needs at least one deviation magnitude (and a vocabulary with position motions)")
    return mags


# -- whole datasets -----------------------------------------------------------------------


def augment_dataset(
    sources: Sequence[str | Path],
    out: str | Path,
    config: STAConfig = STAConfig(),
    *,
    include_demos: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Augment every successful demonstration of ``sources`` into a new dataset ``out``.

    With ``include_demos`` the demonstrations are copied first (bit-exact),
    so ``out`` is the training set the paper describes (demos + 3 x STA).
    Returns the augmentation report (also written to ``out/augment_report.json``).
    """
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_data._util import atomic_write_json
    from cliprt_data.storage import check_dataset

    if not sources:
        raise ValueError("give at least one dataset to augment (--data DIR)")
    infos = [check_dataset(s) for s in sources]
    first = infos[0]
    for info in infos:
        _check_augmentable(info)
        same = same_space(info.minari_metadata["observation_space"], first.minari_metadata["observation_space"])
        if not same or info.env_id != first.env_id:
            raise ValueError(
                f"{info.path} and {first.path} hold different envs or observations; augment them into separate folders"
            )
        if info.jpeg != first.jpeg:
            raise ValueError(f"{info.path} and {first.path} store images differently (JPEG vs raw); augment them separately")
    vocab = first.vocabulary
    kwargs = dict(first.env_kwargs)
    if vocab.name != "cliprt-58":
        kwargs["vocabulary"] = vocab
    wrapped = gym.make(first.env_id, **kwargs)
    env = wrapped.unwrapped
    metadata = build_metadata(
        source="augment",
        vocabulary=vocab,
        env_id=first.env_id,
        env_kwargs=first.env_kwargs,
        task=first.metadata.get("task"),
        has_sim_state=True,
        extra={
            "sta": {k: v for k, v in config.__dict__.items()},
            "augmented_from": [str(i.path) for i in infos],
            "max_episode_steps": first.metadata.get("max_episode_steps"),
        },
    )
    stats: dict[str, AugmentStats] = {}
    start = time.perf_counter()
    try:
        writer = DatasetWriter.create(
            out,
            observation_space=first.observation_space(),
            action_space=first.action_space(),
            metadata=metadata,
            config=StorageConfig(jpeg=first.jpeg),
            env_spec=wrapped.spec,
        )
        with writer:  # closing removes the new folder again if no episode got into it (an error, nothing kept)
            total_demos = sum(i.total_episodes for i in infos)
            from tqdm.auto import tqdm

            bar = tqdm(total=total_demos, desc="augment", unit="demo", disable=not progress, dynamic_ncols=True)
            try:
                for source_number, info in enumerate(infos):
                    with DatasetReader(info.path) as reader:
                        for index in range(info.total_episodes):
                            entry = info.episodes[index]
                            task = str(entry.get("task") or info.metadata.get("task") or "?")
                            st = stats.setdefault(task, AugmentStats())
                            if include_demos:
                                writer.copy_episode(info, index, extra={"copied_from": f"{info.path}#{index}"})
                            bar.update(1)
                            if entry.get("source") == "augment" or (config.require_success and not entry.get("success")):
                                st.demos_skipped += 1
                                continue
                            demo = reader.episode(index, images=False)
                            st.demos += 1
                            st.demo_transitions += int(demo.labelled.sum())
                            _augment_one(env, demo, vocab, config, st, writer, info, index, task, source_number)
                            kept = sum(s.kept for s in stats.values())
                            bar.set_postfix(kept=kept, dropped=sum(s.dropped for s in stats.values()))
            finally:
                bar.close()
            if writer.total_episodes == 0:
                reasons = Counter()
                for s in stats.values():
                    reasons.update(s.drop_reasons)
                why = f"dropped: {dict(reasons)}" if reasons else "no successful demonstration to augment"
                copied = "and --no-demos left nothing to copy" if not include_demos else "and the sources hold no episode"
                raise ValueError(f"no trajectory could be augmented ({why}) {copied}; nothing was saved to {writer.path}")
    finally:
        wrapped.close()
    seconds = time.perf_counter() - start
    added = sum(s.transitions_added for s in stats.values())
    report = {
        "dataset": str(writer.path),
        "sources": [str(i.path) for i in infos],
        "per_demo": config.per_demo,
        "include_demos": include_demos,
        "per_task": {k: v.as_dict() for k, v in stats.items()},
        "transitions_added": added,
        "seconds": seconds,
        "augmented_transitions_per_second": added / seconds if seconds > 0 else 0.0,
        "steps_executed_per_second": sum(s.steps_executed for s in stats.values()) / seconds if seconds > 0 else 0.0,
    }
    writer.update_metadata({"augment_report": {k: v for k, v in report.items() if k != "per_task"}})
    atomic_write_json(Path(writer.path) / "augment_report.json", report)
    return report


def _check_augmentable(info: DatasetInfo) -> None:
    if not info.has_sim_state or not info.env_id:
        raise ValueError(
            f"{info.path} has no simulator states (or no env id), so STA cannot restart from its states; "
            "augment data recorded in simulation (cliprt collect / cliprt teleop on a CLIPRT-UR5Sim env)"
        )
    if info.metadata.get("action_kind", "motion") != "motion":
        raise ValueError(f"{info.path} holds continuous actions; STA works on language-motion demonstrations")


def _augment_one(
    env: Any,
    demo: Episode,
    vocab: Vocabulary,
    config: STAConfig,
    stats: AugmentStats,
    writer: DatasetWriter,
    info: DatasetInfo,
    index: int,
    task: str,
    source_number: int = 0,
) -> None:
    for k in range(config.per_demo):
        stats.requested += 1
        for attempt in range(config.attempts_per_trajectory):
            stats.attempts += 1
            rng = np.random.default_rng([config.seed, source_number, index, k, attempt])
            try:
                builder = augment_demo(env, demo, vocab, config, rng, stats)
            except _TrajectoryFailed as exc:
                stats.dropped += 1
                stats.drop_reasons[exc.reason] += 1
                continue
            writer.write_episode(
                builder,
                success=bool(builder.infos[-1]["is_success"]),
                extra={
                    "source": "augment",
                    "task": task,
                    "parent": f"{info.path}#{index}",
                    "parent_episode": index,
                    "trajectory": k,
                    "attempt": attempt,
                },
            )
            stats.kept += 1
            stats.transitions_added += builder.labelled_steps
            stats.steps_recorded += len(builder)
            break


def format_report(report: dict[str, Any]) -> str:
    """The augmentation report as a small table."""
    lines = [
        "| task | demos | demo transitions | kept / requested | dropped (reasons) | transitions added | recoveries (skipped) |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, s in report["per_task"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s["drop_reasons"].items())) or "-"
        lines.append(
            f"| {task} | {s['demos']} | {s['demo_transitions']} | {s['kept']} / {s['requested']} | {s['dropped']} ({reasons}) | "
            f"{s['transitions_added']} | {s['recoveries']} ({s['recoveries_skipped']}) |"
        )
    lines.append(
        f"\n{report['transitions_added']} transitions added in {report['seconds']:.1f} s "
        f"({report['augmented_transitions_per_second']:.1f}/s); dataset: {report['dataset']}"
    )
    return "\n".join(lines)
