"""Building blocks for scripted experts that speak only the motion vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cliprt_envs.motions import CLOSE_TEXT, OPEN_TEXT, Vocabulary

AXES_XYZ = ("x", "y", "z")


def largest_step(vocabulary: Vocabulary, axis: str, error: float, slack: float = 0.004) -> int | None:
    """The largest motion along ``axis`` not overshooting ``error`` by more than ``slack``."""
    levels = vocabulary.axis_levels(axis)
    sign = 1 if error > 0 else -1
    best = None
    for level, mag in enumerate(levels):
        if mag <= abs(error) + slack:
            best = level
    if best is None:
        return None
    return vocabulary.find(axis, sign, best)


def step_toward(
    vocabulary: Vocabulary,
    error: np.ndarray,
    axes: Sequence[str] = AXES_XYZ,
    tolerance: float = 0.006,
) -> int | None:
    """Reduce the largest remaining position error among ``axes``; None when all are within tolerance."""
    order = sorted(axes, key=lambda a: -abs(error[AXES_XYZ.index(a)]))
    for axis in order:
        e = float(error[AXES_XYZ.index(axis)])
        if abs(e) <= tolerance:
            continue
        motion = largest_step(vocabulary, axis, e)
        if motion is not None:
            return motion
    return None


def gripper_motion(vocabulary: Vocabulary, open_: bool) -> int:
    return vocabulary.id_of(OPEN_TEXT if open_ else CLOSE_TEXT)


def go_to(
    vocabulary: Vocabulary,
    tcp: np.ndarray,
    goal: np.ndarray,
    safe_height: float | None = None,
    xy_tolerance: float = 0.006,
    z_tolerance: float = 0.006,
) -> int | None:
    """Reach ``goal``: rise to ``safe_height`` before travelling in xy, then descend.

    Returns None once the tool-centre point is at ``goal``.
    """
    error = goal - tcp
    xy_far = np.max(np.abs(error[:2])) > xy_tolerance
    if xy_far and safe_height is not None and tcp[2] < safe_height - z_tolerance:
        return step_toward(vocabulary, np.array([0.0, 0.0, safe_height - tcp[2]]), ("z",), z_tolerance)
    if xy_far:
        motion = step_toward(vocabulary, error, ("x", "y"), xy_tolerance)
        if motion is not None:
            return motion
    return step_toward(vocabulary, error, ("z",), z_tolerance)
