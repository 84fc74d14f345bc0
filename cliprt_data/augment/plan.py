"""STA planning: pure functions of a demonstration's motions, no env (waypoints, segments, re-sampled routes, deviations)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cliprt_envs.motions import POSITION_AXES, Vocabulary

_QUANTUM = 1e-4  # metres / radians: the grid on which displacements are decomposed

#: How augmented steps are labelled (``STAConfig.labels``); the first is the default.
LABELLINGS = ("heuristic", "expert")


@dataclass(frozen=True)
class STAConfig:
    """How STA augments (defaults follow the paper where it says).

    ``deviation_magnitudes``: position magnitudes (metres) for deviations on
    the axes the fine move does not use; None means the vocabulary's position
    magnitudes except the largest ({1, 5, 10} cm for the paper's vocabulary).

    ``labels``: ``"heuristic"`` (the paper's: a step's label is the motion STA
    executes there, i.e. the re-sampled route, the reversal of the deviation
    or the demonstration's fine move) or ``"expert"`` (DAgger/DART-style, sim
    tasks only: the same motions are executed, so the visited states are
    STA's, but every labelled step is labelled with the task's scripted
    expert's motion at the state where the step is taken).
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
    labels: str = LABELLINGS[0]

    def __post_init__(self) -> None:
        if self.labels not in LABELLINGS:
            raise ValueError(f"labels must be one of {LABELLINGS}, got {self.labels!r}")
        if self.per_demo < 0:
            raise ValueError(f"per_demo must be >= 0, got {self.per_demo}")
        if self.n_fine < 0:
            raise ValueError(f"n_fine must be >= 0, got {self.n_fine}")
        if self.attempts_per_trajectory < 1:
            raise ValueError("attempts_per_trajectory must be >= 1")


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


def deviation_magnitudes(vocabulary: Vocabulary, config: STAConfig) -> list[float]:
    """Position magnitudes (metres) for deviations, smallest first: the config's, else all but the largest of the vocabulary."""
    if config.deviation_magnitudes is not None:
        mags = sorted(float(m) for m in config.deviation_magnitudes)
    else:
        levels = list(vocabulary.position_magnitudes)
        mags = levels[:-1] if len(levels) > 1 else levels
    if not mags:
        raise ValueError("STA needs at least one deviation magnitude (and a vocabulary with position motions)")
    return mags
