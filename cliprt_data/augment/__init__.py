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

Labels (``STAConfig.labels``, ``cliprt augment --labels``): ``heuristic``,
the default, is the paper's (each labelled step is labelled with the motion
STA executes there). ``expert`` (sim tasks, DAgger/DART-style) executes the
very same motions, so the visited states stay STA's, but labels each labelled
step (diversified, recovery and fine steps; deviations stay unlabelled) with
the scripted expert's motion at the state where the step is taken: the
heuristic labels agree with the expert only about half the time (measured by
:func:`~cliprt_data.augment.agreement.expert_agreement`, ``python -m
benchmarks.sta_label_agreement``), so learners would see conflicting targets.
With expert labels a step's label may differ from the motion executed
(``actions`` in the episode); action chunks then are the expert's labels
along STA's path, not an open-loop plan.

Modules: :mod:`~cliprt_data.augment.plan` (pure planning, no env),
:mod:`~cliprt_data.augment.execute` (running one trajectory in the env) and
:mod:`~cliprt_data.augment.dataset` (whole datasets, the report),
:mod:`~cliprt_data.augment.agreement` (labels against the expert at restored states).
"""

from __future__ import annotations

from cliprt_data.augment.agreement import expert_agreement, expert_labels_at_states
from cliprt_data.augment.dataset import augment_dataset, format_report
from cliprt_data.augment.execute import AugmentStats, augment_demo, check_labelling, scene_signature
from cliprt_data.augment.plan import (
    LABELLINGS,
    Segment,
    STAConfig,
    decompose,
    deviation_magnitudes,
    diversify,
    find_waypoints,
    inverse,
    sample_deviation,
    segments,
)

__all__ = [
    "LABELLINGS",
    "AugmentStats",
    "STAConfig",
    "Segment",
    "augment_dataset",
    "augment_demo",
    "check_labelling",
    "decompose",
    "deviation_magnitudes",
    "diversify",
    "expert_agreement",
    "expert_labels_at_states",
    "find_waypoints",
    "format_report",
    "inverse",
    "sample_deviation",
    "scene_signature",
    "segments",
]
