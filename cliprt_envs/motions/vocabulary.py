"""The language-motion vocabulary: the one table of motion texts, 8-D deltas and ids.

A motion's 8-D delta is ``[dx, dy, dz, droll, dpitch, dyaw, gripper_rotation,
gripper_command]`` in metres and radians, in the robot frame (x away from the
base, y to the left, z up). ``gripper_command`` is +1 for "open", -1 for
"close" and 0 for every arm motion (motions keep the gripper as it is).

A :class:`Vocabulary` is a frozen value: build a finer or coarser one with
:meth:`Vocabulary.build` and pass it to environments and agents alike.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

#: Order of the dimensions of a low-level action.
ACTION_DIMS: tuple[str, ...] = (
    "x",
    "y",
    "z",
    "roll",
    "pitch",
    "yaw",
    "gripper_rotation",
    "gripper",
)
POSITION_AXES: tuple[str, ...] = ("x", "y", "z")
ROTATION_AXES: tuple[str, ...] = ("roll", "pitch", "yaw", "gripper_rotation")
MOTION_AXES: tuple[str, ...] = POSITION_AXES + ROTATION_AXES

#: The paper's magnitudes (REFERENCE.md section 1).
PAPER_POSITION_MAGNITUDES_M: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20)
PAPER_ROTATION_MAGNITUDES_DEG: tuple[float, ...] = (5.0, 15.0, 45.0, 90.0)

#: Position dims are scaled by this before the dominant-axis argmax, so that
#: 0.1 m compares with 0.7854 rad (REFERENCE.md section 2).
POSITION_TO_ROTATION_SCALE = 7.854
#: The paper's keep-thresholds for converting external low-level datasets.
PAPER_MIN_POSITION_M = 0.01
PAPER_MIN_ROTATION_RAD = 0.08727
#: |gripper change| above this is an open/close event.
GRIPPER_EVENT_THRESHOLD = 0.5

# (negative text, positive text) templates; {m} is the magnitude phrase.
_TEMPLATES: dict[str, tuple[str, str]] = {
    "x": ("move the arm back by {m}", "move the arm forward by {m}"),
    "y": ("move the arm to the right by {m}", "move the arm to the left by {m}"),
    "z": ("lower the arm by {m}", "raise the arm up by {m}"),
    "roll": ("roll arm {m} counterclockwise", "roll arm {m} clockwise"),
    "pitch": ("tilt arm up {m}", "tilt arm down {m}"),
    "yaw": ("yaw arm {m} counterclockwise", "yaw arm {m} clockwise"),
    "gripper_rotation": (
        "rotate the gripper {m} counterclockwise",
        "rotate the gripper {m} clockwise",
    ),
}
CLOSE_TEXT = "close the gripper"
OPEN_TEXT = "open the gripper"


class UnknownMotionError(KeyError, ValueError):
    """A motion text or id that the vocabulary does not contain."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


def normalize_text(text: str) -> str:
    """Lower-case, trim, collapse spaces and drop a trailing full stop."""
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(".").strip()


def _fmt_number(value: float) -> str:
    return f"{value:g}"


def position_phrase(metres: float) -> str:
    cm = round(metres * 100, 6)
    unit = "centimeter" if math.isclose(cm, 1.0) else "centimeters"
    return f"{_fmt_number(cm)} {unit}"


def rotation_phrase(degrees: float) -> str:
    unit = "degree" if math.isclose(degrees, 1.0) else "degrees"
    return f"{_fmt_number(degrees)} {unit}"


@dataclass(frozen=True)
class Motion:
    """One entry of a vocabulary.

    ``axis`` is one of :data:`MOTION_AXES`, or ``"gripper"`` for open/close.
    ``value`` is the signed magnitude along that axis (metres or radians;
    +1/-1 for open/close) and ``level`` the 0-based magnitude index.
    """

    id: int
    text: str
    axis: str
    value: float
    level: int
    delta: tuple[float, ...] = field(repr=False)

    @property
    def is_gripper(self) -> bool:
        return self.axis == "gripper"

    @property
    def sign(self) -> int:
        return 1 if self.value > 0 else -1


@dataclass(frozen=True)
class Vocabulary:
    """An ordered, immutable set of language motions.

    Build it with :meth:`build`; the default (:func:`default_vocabulary`) is the
    paper's 58 primitives with ids 0..55 for arm motions, 56 "close the gripper"
    and 57 "open the gripper".
    """

    motions: tuple[Motion, ...]
    position_magnitudes: tuple[float, ...]
    rotation_magnitudes: tuple[float, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if not self.motions:
            raise ValueError("a vocabulary needs at least one motion")
        for i, motion in enumerate(self.motions):
            if motion.id != i:
                raise ValueError(f"motion ids must be 0..N-1 in order; got {motion.id} at {i}")
            if len(motion.delta) != len(ACTION_DIMS):
                raise ValueError(f"motion {motion.text!r} has a {len(motion.delta)}-D delta, need 8")
        texts = [normalize_text(m.text) for m in self.motions]
        if len(set(texts)) != len(texts):
            dup = sorted({t for t in texts if texts.count(t) > 1})
            raise ValueError(f"duplicate motion texts: {dup}")

    # -- construction -------------------------------------------------------
    @classmethod
    def build(
        cls,
        position_magnitudes: Sequence[float] = PAPER_POSITION_MAGNITUDES_M,
        rotation_magnitudes_deg: Sequence[float] = PAPER_ROTATION_MAGNITUDES_DEG,
        axes: Sequence[str] = MOTION_AXES,
        gripper: bool = True,
        name: str | None = None,
    ) -> Vocabulary:
        """Build a vocabulary of ``axes x magnitudes x {-, +}`` plus close/open.

        Within an axis, ids run from the largest negative to the largest
        positive move, so neighbouring ids are neighbouring magnitudes.
        """
        pos = tuple(sorted(float(m) for m in position_magnitudes))
        rot_deg = tuple(sorted(float(m) for m in rotation_magnitudes_deg))
        for label, values in (("position", pos), ("rotation", rot_deg)):
            if any(v <= 0 or not math.isfinite(v) for v in values):
                raise ValueError(f"{label} magnitudes must be finite and > 0, got {values}")
            if len(set(values)) != len(values):
                raise ValueError(f"{label} magnitudes must be distinct, got {values}")
        unknown = [a for a in axes if a not in MOTION_AXES]
        if unknown:
            raise ValueError(f"unknown axes {unknown}; choose from {MOTION_AXES}")
        motions: list[Motion] = []
        for axis in MOTION_AXES:
            if axis not in axes:
                continue
            is_pos = axis in POSITION_AXES
            if (is_pos and not pos) or (not is_pos and not rot_deg):
                continue
            dim = ACTION_DIMS.index(axis)
            neg_t, pos_t = _TEMPLATES[axis]
            levels = pos if is_pos else rot_deg
            signed = [(-1, i) for i in reversed(range(len(levels)))]
            signed += [(1, i) for i in range(len(levels))]
            for sign, level in signed:
                mag = levels[level]
                value = mag if is_pos else math.radians(mag)
                phrase = position_phrase(mag) if is_pos else rotation_phrase(mag)
                text = (pos_t if sign > 0 else neg_t).format(m=phrase)
                delta = [0.0] * len(ACTION_DIMS)
                delta[dim] = sign * value
                motions.append(Motion(len(motions), text, axis, sign * value, level, tuple(delta)))
        if gripper:
            for text, cmd in ((CLOSE_TEXT, -1.0), (OPEN_TEXT, 1.0)):
                delta = [0.0] * len(ACTION_DIMS)
                delta[-1] = cmd
                motions.append(Motion(len(motions), text, "gripper", cmd, 0, tuple(delta)))
        if name is None:
            name = f"motions-{len(motions)}"
        return cls(tuple(motions), pos, tuple(math.radians(d) for d in rot_deg), name)

    # -- container behaviour ------------------------------------------------
    def __len__(self) -> int:
        return len(self.motions)

    def __iter__(self) -> Iterator[Motion]:
        return iter(self.motions)

    def __getitem__(self, key: int | str) -> Motion:
        if isinstance(key, str):
            return self.motions[self.id_of(key)]
        return self.motions[self._check_id(key)]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return normalize_text(key) in self._text_index
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return 0 <= int(key) < len(self)
        return False

    @cached_property
    def texts(self) -> tuple[str, ...]:
        return tuple(m.text for m in self.motions)

    @cached_property
    def deltas(self) -> np.ndarray:
        """``(N, 8)`` float64 array of every motion's delta (read-only)."""
        arr = np.array([m.delta for m in self.motions], dtype=np.float64)
        arr.setflags(write=False)
        return arr

    @cached_property
    def _text_index(self) -> dict[str, int]:
        return {normalize_text(m.text): m.id for m in self.motions}

    @cached_property
    def _by_axis_sign_level(self) -> dict[tuple[str, int, int], int]:
        return {(m.axis, m.sign, m.level): m.id for m in self.motions}

    # -- look-ups -----------------------------------------------------------
    def _check_id(self, motion_id: object) -> int:
        if isinstance(motion_id, bool) or not isinstance(motion_id, (int, np.integer)):
            raise TypeError(f"a motion id is an int, got {type(motion_id).__name__}: {motion_id!r}")
        i = int(motion_id)
        if not 0 <= i < len(self):
            raise UnknownMotionError(f"motion id {i} is out of range 0..{len(self) - 1}")
        return i

    def text(self, motion_id: int) -> str:
        return self.motions[self._check_id(motion_id)].text

    def delta(self, motion_id: int) -> np.ndarray:
        return self.deltas[self._check_id(motion_id)].copy()

    def id_of(self, text: str) -> int:
        """Id of a motion text (case- and space-insensitive).

        Raises :class:`UnknownMotionError` naming the closest texts.
        """
        if not isinstance(text, str):
            raise TypeError(f"a motion text is a str, got {type(text).__name__}")
        key = normalize_text(text)
        try:
            return self._text_index[key]
        except KeyError:
            near = difflib.get_close_matches(key, list(self._text_index), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise UnknownMotionError(f"{text!r} is not a motion of vocabulary {self.name!r}{hint}") from None

    def find(self, axis: str, sign: int, level: int) -> int | None:
        """Id of the motion on ``axis`` with direction ``sign`` and magnitude ``level``."""
        return self._by_axis_sign_level.get((axis, 1 if sign > 0 else -1, level))

    @property
    def gripper_ids(self) -> tuple[int, int] | None:
        """``(close_id, open_id)`` or None when the vocabulary has no gripper."""
        try:
            return self.id_of(CLOSE_TEXT), self.id_of(OPEN_TEXT)
        except UnknownMotionError:
            return None

    def axis_levels(self, axis: str) -> tuple[float, ...]:
        """Magnitudes (metres or radians) available on ``axis``, ascending."""
        if axis in POSITION_AXES:
            return self.position_magnitudes
        if axis in ROTATION_AXES:
            return self.rotation_magnitudes
        raise ValueError(f"unknown axis {axis!r}")

    # -- low-level to language (REFERENCE.md section 2) ---------------------
    def nearest(
        self,
        delta: Sequence[float] | np.ndarray,
        *,
        min_position: float | None = None,
        min_rotation: float | None = None,
    ) -> int | None:
        """Map a low-level action to the nearest motion by the dominant-axis rule.

        ``delta`` is 7-D ``[dx, dy, dz, droll, dpitch, dyaw, gripper_change]`` or
        8-D (with ``gripper_rotation`` before the gripper change). A gripper
        change with ``|change| > 0.5`` gives open (> 0) or close (< 0) and
        overrides motion. Otherwise the dominant axis is the argmax of
        ``|delta|`` with position dims scaled by 7.854; it is kept only if its
        magnitude exceeds the threshold, and binned to this vocabulary's
        magnitudes with midpoint edges (the paper's edges for its magnitudes).

        Thresholds default to half this vocabulary's smallest magnitudes, so
        every primitive maps to itself; pass :data:`PAPER_MIN_POSITION_M` and
        :data:`PAPER_MIN_ROTATION_RAD` for the paper's conversion of external
        data. Returns None when the action is too small (the paper drops it).
        """
        d = np.asarray(delta, dtype=np.float64).reshape(-1)
        if d.shape[0] == 7:
            pose = np.concatenate([d[:6], [0.0]])
            grip = d[6]
        elif d.shape[0] == 8:
            pose, grip = d[:7], d[7]
        else:
            raise ValueError(f"expected a 7-D or 8-D action, got shape {np.shape(delta)}")
        if not np.all(np.isfinite(d)):
            raise ValueError(f"action contains NaN or inf: {d.tolist()}")
        ids = self.gripper_ids
        if abs(grip) > GRIPPER_EVENT_THRESHOLD and ids is not None:
            return ids[1] if grip > 0 else ids[0]
        scaled = np.abs(pose).copy()
        scaled[:3] *= POSITION_TO_ROTATION_SCALE
        # Only axes this vocabulary can express compete for dominance.
        for k, axis in enumerate(MOTION_AXES):
            if self.find(axis, 1, 0) is None and self.find(axis, -1, 0) is None:
                scaled[k] = -1.0
        k = int(np.argmax(scaled))
        if scaled[k] < 0:
            return None
        axis = MOTION_AXES[k]
        levels = np.asarray(self.axis_levels(axis))
        if axis in POSITION_AXES:
            threshold = levels[0] / 2 if min_position is None else min_position
        else:
            threshold = levels[0] / 2 if min_rotation is None else min_rotation
        value = pose[k]
        if abs(value) <= threshold:
            return None
        edges = (levels[:-1] + levels[1:]) / 2
        level = int(np.digitize(abs(value), edges, right=True))
        return self.find(axis, 1 if value > 0 else -1, level)

    # -- serialisation ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data that rebuilds this vocabulary exactly (datasets, checkpoints)."""
        return {
            "name": self.name,
            "texts": list(self.texts),  # for people reading the JSON; "motions" is authoritative
            "position_magnitudes": list(self.position_magnitudes),
            "rotation_magnitudes": list(self.rotation_magnitudes),
            "motions": [
                {"id": m.id, "text": m.text, "axis": m.axis, "value": m.value, "level": m.level, "delta": list(m.delta)}
                for m in self.motions
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`; returns the shared default when the data is the default."""
        try:
            motions = tuple(
                Motion(
                    int(m["id"]),
                    str(m["text"]),
                    str(m["axis"]),
                    float(m["value"]),
                    int(m["level"]),
                    tuple(float(x) for x in m["delta"]),
                )
                for m in data["motions"]
            )
            vocab = cls(
                motions,
                tuple(float(x) for x in data["position_magnitudes"]),
                tuple(float(x) for x in data["rotation_magnitudes"]),
                str(data.get("name", "custom")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a serialised vocabulary (missing or bad field {exc})") from None
        default = default_vocabulary()
        if vocab == default:
            return default
        return vocab

    @classmethod
    def from_authors_table(cls, path: Any, name: str | None = None) -> Vocabulary:
        """The CLIP-RT authors' ``language_to_action.json`` (see :mod:`cliprt_envs.motions.authors_table`)."""
        from cliprt_envs.motions.authors_table import read_authors_table

        return read_authors_table(path, name)

    def to_authors_table(self, path: Any) -> Any:
        """Write this vocabulary in the authors' ``language_to_action.json`` format; returns the path."""
        from cliprt_envs.motions.authors_table import write_authors_table

        return write_authors_table(self, path)

    def describe(self) -> str:
        """One line per motion: ``id  text  delta``."""
        lines = []
        for m in self.motions:
            nz = ", ".join(f"{ACTION_DIMS[i]}={v:+g}" for i, v in enumerate(m.delta) if v)
            lines.append(f"{m.id:3d}  {m.text:<45s} {nz}")
        return "\n".join(lines)


_DEFAULT: Vocabulary | None = None


def default_vocabulary() -> Vocabulary:
    """The paper's 58 language motions (built on first use, then shared)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Vocabulary.build(name="cliprt-58")
    return _DEFAULT
