"""The CLIP-RT authors' motion table (``docs/language_to_action.json``) as a :class:`Vocabulary`.

Their file is one JSON object, motion text -> the 8-D action written as a
string, in the order the model's classes were made::

    {"move the arm back by twenty centimeters": "[-0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]", ...,
     "close the gripper": "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
     "open the gripper": "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]"}

The layout ``[dx, dy, dz, droll, dpitch, dyaw, gripper_rotation, gripper]`` is
ours; the last value differs: it is an *absolute* gripper state (1.0 open,
0.0 closed), and every arm motion says 1.0. Our vocabularies command the
gripper only in the two gripper motions (+1 open, -1 close, 0 keep), so on
reading, a motion that moves the arm keeps the gripper (0) whatever its last
value says, and a motion that does not move the arm is "open" (last value >=
0.5) or "close". Writing does the reverse. Texts are kept exactly, spelling
included ("fourty five degrees").

:func:`authors_vocabulary` rebuilds their 58 motions without the file: their
texts are our templates with the magnitudes spelled in words, and their
deltas are the paper's.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cliprt_envs.motions.vocabulary import (
    ACTION_DIMS,
    MOTION_AXES,
    PAPER_POSITION_MAGNITUDES_M,
    PAPER_ROTATION_MAGNITUDES_DEG,
    POSITION_AXES,
    POSITION_TO_ROTATION_SCALE,
    Motion,
    Vocabulary,
    position_phrase,
    rotation_phrase,
)

#: The file's name in the authors' repository (github.com/clip-rt/clip-rt, under docs/).
AUTHORS_TABLE_FILE = "language_to_action.json"
#: Name of the vocabulary :func:`authors_vocabulary` builds with the paper's magnitudes.
AUTHORS_VOCABULARY_NAME = "clip-rt-authors-58"

_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
# "fourty" is the authors' spelling; their model was trained on it.
_TENS = ("", "", "twenty", "thirty", "fourty", "fifty", "sixty", "seventy", "eighty", "ninety")
_OPEN_THRESHOLD = 0.5


def spell_number(value: float) -> str:
    """A whole number below 1000 in words as the authors write it ("fourty five"); others as digits."""
    if not (math.isfinite(value) and float(value).is_integer() and 0 <= value < 1000):
        return f"{value:g}"
    n = int(value)
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
        if n == 0:
            return " ".join(words)
    if n < 20:
        words.append(_ONES[n])
    else:
        words.append(_TENS[n // 10])
        if n % 10:
            words.append(_ONES[n % 10])
    return " ".join(words)


def _spelled(text: str, digits: str, number: float) -> str:
    """``text`` with its magnitude phrase ("45 degrees") spelled out ("fourty five degrees")."""
    unit = digits.partition(" ")[2]
    return text.replace(digits, f"{spell_number(number)} {unit}")


def authors_vocabulary(
    position_magnitudes: Sequence[float] = PAPER_POSITION_MAGNITUDES_M,
    rotation_magnitudes_deg: Sequence[float] = PAPER_ROTATION_MAGNITUDES_DEG,
    name: str | None = None,
) -> Vocabulary:
    """The authors' motion texts (magnitudes in words) over our deltas; the defaults give their table."""
    base = Vocabulary.build(position_magnitudes, rotation_magnitudes_deg)
    motions = []
    for m in base:
        text = m.text
        if not m.is_gripper and m.axis in POSITION_AXES:
            cm = round(abs(m.value) * 100, 6)
            text = _spelled(text, position_phrase(abs(m.value)), cm)
        elif not m.is_gripper:
            deg = round(math.degrees(abs(m.value)), 6)
            text = _spelled(text, rotation_phrase(deg), deg)
        motions.append(dataclasses.replace(m, text=text))
    default = name or (AUTHORS_VOCABULARY_NAME if len(base) == 58 else f"clip-rt-authors-{len(base)}")
    return Vocabulary(tuple(motions), base.position_magnitudes, base.rotation_magnitudes, default)


# -- reading ---------------------------------------------------------------------------
def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"motion text {key!r} appears twice in the table")
        seen[key] = value
    return seen


def _parse_action(text: str, raw: object) -> np.ndarray:
    """The 8 numbers of one entry (a string such as "[0.0, ...]", as the authors write them, or a list)."""
    try:
        values = json.loads(raw) if isinstance(raw, str) else raw
        action = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"entry {text!r}: {raw!r} is not a list of 8 numbers") from None
    if action.shape != (len(ACTION_DIMS),) or not np.all(np.isfinite(action)):
        raise ValueError(f"entry {text!r}: need 8 finite numbers {list(ACTION_DIMS)}, got {raw!r}")
    return action


def _axis_and_value(text: str, action: np.ndarray) -> tuple[str, float]:
    moved = [k for k in range(len(MOTION_AXES)) if action[k] != 0.0]
    if len(moved) > 1:
        axes = [MOTION_AXES[k] for k in moved]
        raise ValueError(f"entry {text!r} moves along {axes}; a vocabulary motion moves along one axis")
    if moved:
        return MOTION_AXES[moved[0]], float(action[moved[0]])
    return "gripper", 1.0 if action[-1] >= _OPEN_THRESHOLD else -1.0


def _magnitudes(entries: list[tuple[str, str, float]], position: bool) -> tuple[float, ...]:
    values = {abs(v) for _, axis, v in entries if axis != "gripper" and (axis in POSITION_AXES) == position}
    return tuple(sorted(values))


def vocabulary_from_table(table: dict[str, object], name: str = "clip-rt-authors") -> Vocabulary:
    """A vocabulary from the authors' table as a dict (text -> 8-D action with an absolute gripper)."""
    if not isinstance(table, dict) or not table:
        raise ValueError("an authors' motion table is a non-empty JSON object: motion text -> 8-D action")
    entries = [(str(text), *_axis_and_value(str(text), _parse_action(str(text), raw))) for text, raw in table.items()]
    pos, rot = _magnitudes(entries, True), _magnitudes(entries, False)
    seen: dict[tuple[str, float], str] = {}
    motions = []
    for i, (text, axis, value) in enumerate(entries):
        if (axis, value) in seen:
            raise ValueError(f"entries {seen[axis, value]!r} and {text!r} are the same motion")
        seen[axis, value] = text
        delta = [0.0] * len(ACTION_DIMS)
        if axis == "gripper":
            delta[-1], level = value, 0
        else:
            delta[ACTION_DIMS.index(axis)] = value
            level = (pos if axis in POSITION_AXES else rot).index(abs(value))
        motions.append(Motion(i, text, axis, value, level, tuple(delta)))
    return Vocabulary(tuple(motions), pos, rot, name)


def read_authors_table(path: str | os.PathLike[str], name: str | None = None) -> Vocabulary:
    """Load ``language_to_action.json`` (the authors' format) as a vocabulary in the file's order."""
    p = Path(path).expanduser()
    try:
        table = json.loads(p.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)
    except FileNotFoundError:
        raise FileNotFoundError(f"motion table {str(p)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"motion table {str(p)!r} is not valid JSON ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"motion table {str(p)!r}: {exc}") from None
    try:
        return vocabulary_from_table(table, name or "clip-rt-authors")
    except ValueError as exc:
        raise ValueError(f"motion table {str(p)!r}: {exc}") from None


# -- writing ---------------------------------------------------------------------------
def table_from_vocabulary(vocabulary: Vocabulary) -> dict[str, str]:
    """The authors' table of ``vocabulary``: text -> "[8 numbers]" with an absolute gripper state."""
    table: dict[str, str] = {}
    for m in vocabulary:
        action = [float(v) for v in m.delta]
        action[-1] = (1.0 if m.value > 0 else 0.0) if m.is_gripper else 1.0
        table[m.text] = json.dumps(action)
    return table


def write_authors_table(vocabulary: Vocabulary, path: str | os.PathLike[str]) -> Path:
    """Write ``vocabulary`` as the authors' ``language_to_action.json`` (one line, their formatting)."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(table_from_vocabulary(vocabulary)), encoding="utf-8")
    return p


# -- executing one vocabulary's choices in another -------------------------------------------
def motion_map(source: Vocabulary, target: Vocabulary) -> np.ndarray:
    """For each motion of ``source``, the id of ``target``'s motion with the same delta, else the nearest.

    "Nearest" is :meth:`Vocabulary.nearest` (dominant axis, binned magnitude)
    with no minimum (a move smaller than ``target``'s smallest becomes that
    smallest move), falling back to the smallest distance with positions
    scaled as there (an axis ``target`` cannot move along).
    """
    out = np.empty(len(source), dtype=np.int64)
    targets = target.deltas
    scale = np.array([POSITION_TO_ROTATION_SCALE] * 3 + [1.0] * 5)
    for m in source:
        delta = np.asarray(m.delta, dtype=np.float64)
        same = np.flatnonzero(np.all(np.abs(targets - delta) < 1e-9, axis=1))
        if same.size:
            out[m.id] = same[0]
            continue
        near = target.nearest(delta, min_position=0.0, min_rotation=0.0)
        out[m.id] = near if near is not None else int(np.argmin((((targets - delta) * scale) ** 2).sum(axis=1)))
    return out
