"""Building blocks for scripted experts that speak only the motion vocabulary."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from cliprt_envs.motions import CLOSE_TEXT, OPEN_TEXT, ROTATION_AXES, Vocabulary
from cliprt_envs.sim.scene import FINGER_MAX_OPENING, HOME_ROTATION, TABLE_TOP_Z, SceneObject
from cliprt_envs.sim.tasks.base import Item, extent_along

if TYPE_CHECKING:
    from cliprt_envs.sim.backend import MujocoUR5Backend

AXES_XYZ = ("x", "y", "z")
ROTATION_SLACK = np.radians(2.5)
#: The tool counts as pointing down (home orientation) within this angle per axis.
ORIENTATION_TOLERANCE = np.radians(3.0)
#: Largest turn per motion when turning the tool back upright.
MAX_TURN = np.radians(45.0)
#: Above this the arm is near the end of its reach: come down before travelling or turning.
TRAVEL_CEILING = TABLE_TOP_Z + 0.35


def largest_step(vocabulary: Vocabulary, axis: str, error: float, slack: float | None = None) -> int | None:
    """The largest motion along ``axis`` not overshooting ``error`` by more than ``slack``.

    ``slack`` defaults to 4 mm on position axes and 2.5 degrees on rotation axes.
    """
    if slack is None:
        slack = ROTATION_SLACK if axis in ROTATION_AXES else 0.004
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


def commanded_open(backend: MujocoUR5Backend) -> bool:
    """The last gripper command was "open" (the fingers may still be blocked by something)."""
    return bool(np.mean(backend.data.ctrl[backend.finger_act]) > FINGER_MAX_OPENING / 2)


def restore_orientation(backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int | None:
    """A rotation motion back toward the home orientation (tool pointing down, fingers across y).

    None when the tool is within :data:`ORIENTATION_TOLERANCE` of it, or when
    the vocabulary has no rotation that helps. Experts call this first, so they
    recover from rotations made by a person, a policy or trajectory
    augmentation before they continue. The tool axis is swung back to vertical
    first (roll and pitch, at most :data:`MAX_TURN` a motion, from no higher
    than :data:`TRAVEL_CEILING`, where the arm has room to turn); then the twist
    about the tool axis is undone in the direction that unwinds the last
    wrist joint toward its home angle, so repeated turns never run it into
    its limit.
    """
    rot = backend.tcp_rotation()
    tool_axis = rot[:, 2]
    down = HOME_ROTATION[:, 2]
    cross = np.cross(tool_axis, down)
    tilt = float(np.arctan2(np.linalg.norm(cross), tool_axis @ down))
    if tilt > ORIENTATION_TOLERANCE:
        tcp_z = backend.tcp_pose()[0][2]
        if tcp_z > TRAVEL_CEILING:
            return axis_step(vocabulary, "z", TRAVEL_CEILING - 0.05 - tcp_z)
        norm = float(np.linalg.norm(cross))
        axis = cross / norm if norm > 1e-9 else np.array([1.0, 0.0, 0.0])  # upside down: any horizontal axis
        swing = axis * tilt  # world x, y components: roll, pitch
        for i in np.argsort(-np.abs(swing[:2])):
            turn = float(np.clip(swing[i], -MAX_TURN, MAX_TURN))
            motion = largest_step(vocabulary, ("roll", "pitch")[i], turn)
            if motion is not None:
                return motion
        return None
    relative = HOME_ROTATION.T @ rot
    twist = float(np.arctan2(relative[1, 0], relative[0, 0]))  # about the tool axis
    if abs(twist) <= ORIENTATION_TOLERANCE:
        return None
    # The wrist turns the tool about its own axis; undo the twist modulo a full turn, unwinding.
    wrist = float(backend.data.qpos[backend.arm_qadr[5]])
    unwind = float(backend.home_qpos[5]) - wrist
    turn = -twist + 2 * np.pi * round((unwind + twist) / (2 * np.pi))
    turn = float(np.clip(turn, -MAX_TURN, MAX_TURN))
    motion = largest_step(vocabulary, "gripper_rotation", turn)
    if motion is None:  # pointing down, a turn about the tool axis is a yaw the other way
        motion = largest_step(vocabulary, "yaw", -turn)
    return motion


ExpertMethod = TypeVar("ExpertMethod", bound=Callable[..., int])


def upright_first(expert: ExpertMethod) -> ExpertMethod:
    """Decorate a task's ``expert_action`` so it first turns the tool back to pointing down."""

    @functools.wraps(expert)
    def wrapper(self: Any, backend: MujocoUR5Backend, vocabulary: Vocabulary) -> int:
        motion = restore_orientation(backend, vocabulary)
        return motion if motion is not None else expert(self, backend, vocabulary)

    return wrapper  # type: ignore[return-value]


def go_to(
    vocabulary: Vocabulary,
    tcp: np.ndarray,
    goal: np.ndarray,
    safe_height: float | None = None,
    xy_tolerance: float = 0.006,
    z_tolerance: float = 0.006,
    nudge: float = 0.02,
) -> int | None:
    """Reach ``goal``: rise to ``safe_height`` before travelling in xy, then descend.

    An xy error below ``nudge`` is corrected in place, without rising first:
    the arm's small tracking error changes with height, and rising to fix a
    few millimetres could otherwise alternate with descending for ever. From
    above :data:`TRAVEL_CEILING` (the edge of the arm's reach) the tool comes
    down before it travels. Returns None once the tool-centre point is at ``goal``.
    """
    error = goal - tcp
    xy_err = float(np.max(np.abs(error[:2])))
    xy_far = xy_err > xy_tolerance
    if xy_far and tcp[2] > TRAVEL_CEILING:
        floor = max(goal[2], safe_height if safe_height is not None else goal[2])
        motion = step_toward(vocabulary, np.array([0.0, 0.0, max(floor, TRAVEL_CEILING - 0.05) - tcp[2]]), ("z",))
        if motion is not None:
            return motion
    if xy_far and safe_height is not None and tcp[2] < safe_height - z_tolerance and xy_err > nudge:
        return step_toward(vocabulary, np.array([0.0, 0.0, safe_height - tcp[2]]), ("z",), z_tolerance)
    if xy_far:
        motion = step_toward(vocabulary, error, ("x", "y"), xy_tolerance)
        if motion is not None:
            return motion
    return step_toward(vocabulary, error, ("z",), z_tolerance)


def raise_to(vocabulary: Vocabulary, tcp: np.ndarray, height: float, tolerance: float = 0.006) -> int | None:
    """A step up (or down) toward tool-centre height ``height``; None when there."""
    return step_toward(vocabulary, np.array([0.0, 0.0, height - tcp[2]]), ("z",), tolerance)


# -- grasping ------------------------------------------------------------------------
def grasp_height(item: Item, position: np.ndarray) -> float:
    """Tool-centre (fingertip) height that grips ``item`` about its middle."""
    return max(TABLE_TOP_Z + 0.012, position[2] - item.obj.half_height + 0.012)


def approach_and_grasp(backend: MujocoUR5Backend, vocabulary: Vocabulary, item: Item) -> int:
    """Open the gripper, come down over ``item`` from above and close on it."""
    name = item.obj.name
    tcp = backend.tcp_pose()[0]
    obj = backend.object_position(name)
    if not commanded_open(backend):
        return gripper_motion(vocabulary, open_=True)
    if backend.gripper_opening() < 0.9:  # told to open but blocked (pressing on something): back off upward
        return axis_step(vocabulary, "z", 0.05)
    goal = np.array([obj[0], obj[1], grasp_height(item, obj)])
    hover = obj[2] + item.obj.half_height + 0.06
    motion = go_to(vocabulary, tcp, goal, safe_height=hover)
    return motion if motion is not None else gripper_motion(vocabulary, open_=False)


def holding(backend: MujocoUR5Backend, item: Item) -> bool:
    """Both fingers on ``item`` and the gripper closed on it (not fully open)."""
    return backend.grasping(item.obj.name) and backend.gripper_opening() < 0.9


def pick_expert(backend: MujocoUR5Backend, vocabulary: Vocabulary, item: Item, lift_to: float) -> int:
    """Approach from above, close on the object, lift the tool-centre point to ``lift_to``."""
    if holding(backend, item):
        motion = raise_to(vocabulary, backend.tcp_pose()[0], lift_to)
        return motion if motion is not None else gripper_motion(vocabulary, open_=False)
    return approach_and_grasp(backend, vocabulary, item)


# -- pushing with the closed fingers ----------------------------------------------------
#: Half-size of the closed fingers seen from any horizontal direction (two 1.2 cm pads side by side).
PUSHER_HALF = 0.012


def make_fist(backend: MujocoUR5Backend, vocabulary: Vocabulary, near: np.ndarray, safe_height: float) -> int | None:
    """The motion toward an empty, closed gripper (the pusher or hook); None once it is one.

    Closing happens up at ``safe_height`` when the tool is within 10 cm of
    ``near``, so the open fingers do not close on the object; fingers closed
    on something are opened first.
    """
    tcp = backend.tcp_pose()[0]
    if commanded_open(backend):
        if tcp[2] < safe_height - 0.006 and np.linalg.norm((tcp - near)[:2]) < 0.1:
            motion = raise_to(vocabulary, tcp, safe_height)
            if motion is not None:
                return motion
        return gripper_motion(vocabulary, open_=False)
    if backend.gripper_opening() > 0.25:  # closed on something: let go
        return gripper_motion(vocabulary, open_=True)
    return None


def axis_step(vocabulary: Vocabulary, axis: str, distance: float) -> int:
    """The largest motion along ``axis`` not overshooting ``distance``; the smallest one if none fits."""
    motion = largest_step(vocabulary, axis, distance)
    if motion is None:
        motion = vocabulary.find(axis, 1 if distance > 0 else -1, 0)
    if motion is None:
        raise ValueError(f"vocabulary {vocabulary.name!r} has no motion along {axis}")
    return motion


def push_expert(
    backend: MujocoUR5Backend,
    vocabulary: Vocabulary,
    obj: SceneObject,
    direction: np.ndarray,
    height: float,
    remaining: float,
    safe_height: float,
    gap: float = 0.03,
    max_step: float = 0.05,
) -> int:
    """Push ``obj`` along the horizontal axis ``direction`` by ``remaining`` more metres.

    The pusher is the closed pair of fingers with the tool-centre point at
    ``height``. Phases, all read from the scene: close the fingers (in the
    air); go over the top at ``safe_height`` to a point ``gap`` behind the
    object and come down; push along the axis, at most ``max_step`` a motion,
    keeping on the object's centre line with small side steps; once
    ``remaining`` is used up, lift off so the object is left alone.
    """
    d = np.array([direction[0], direction[1], 0.0], dtype=np.float64)
    d /= np.linalg.norm(d)
    k = int(np.argmax(np.abs(d[:2])))
    if abs(d[1 - k]) > 1e-6:
        raise ValueError(f"push direction must lie along x or y (motions are axis-aligned), got {direction}")
    side = np.array([-d[1], d[0], 0.0])
    tcp = backend.tcp_pose()[0]
    pos = backend.object_position(obj.name)
    motion = make_fist(backend, vocabulary, pos, safe_height)
    if motion is not None:
        return motion
    if remaining <= 0:
        return axis_step(vocabulary, "z", 0.05)
    extent = extent_along(backend, obj, d)
    rel = tcp - pos
    along, lateral = float(rel @ d), float(rel @ side)
    contact = -(extent + PUSHER_HALF)
    in_lane = contact - gap - 0.03 <= along <= contact + 0.02 and abs(lateral) <= 0.025
    if in_lane and abs(tcp[2] - height) <= 0.012:
        if abs(lateral) > 0.01:
            return axis_step(vocabulary, AXES_XYZ[1 - k], float(-lateral * side[1 - k]))
        distance = float(np.clip(contact - along + remaining, 0.01, max_step))
        return axis_step(vocabulary, AXES_XYZ[k], distance * float(np.sign(d[k])))
    pre = pos - d * (extent + PUSHER_HALF + gap)
    pre[2] = height
    motion = go_to(vocabulary, tcp, pre, safe_height=safe_height)
    return motion if motion is not None else axis_step(vocabulary, AXES_XYZ[k], 0.01 * float(np.sign(d[k])))
