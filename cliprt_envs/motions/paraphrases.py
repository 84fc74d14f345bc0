"""Paraphrases of each (axis, direction, magnitude) written for this project.

Used to turn low-level actions into varied language supervision
(REFERENCE.md section 2, step 6), by the scripted language user, and as a test
table for translators. Each phrase names the direction; the magnitude is given
either as a number with units or as a vague amount word. Vague words are
graded by the magnitude's rank within its axis, so they apply to any
vocabulary: the smallest level is "slightly", the largest "a lot".
"""

from __future__ import annotations

import math

import numpy as np

from cliprt_envs.motions.vocabulary import (
    CLOSE_TEXT,
    OPEN_TEXT,
    POSITION_AXES,
    Motion,
    Vocabulary,
    position_phrase,
    rotation_phrase,
)

# Direction phrases: axis -> (negative, positive).
DIRECTION_PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "x": (
        (
            "move the arm back",
            "move arm backward",
            "retract the arm",
            "pull the arm back",
            "move backward",
            "go back",
            "bring the arm toward the base",
        ),
        (
            "move the arm forward",
            "move arm forward",
            "extend the arm",
            "push the arm forward",
            "move forward",
            "go forward",
            "reach forward",
        ),
    ),
    "y": (
        (
            "move the arm to the right",
            "move arm right",
            "shift the arm right",
            "go right",
            "move right",
            "slide the arm to the right",
        ),
        ("move the arm to the left", "move arm left", "shift the arm left", "go left", "move left", "slide the arm to the left"),
    ),
    "z": (
        ("lower the arm", "move the arm down", "move down", "go down", "descend", "bring the arm down"),
        ("raise the arm", "move the arm up", "move up", "go up", "lift the arm", "bring the arm up"),
    ),
    "roll": (
        ("roll arm counterclockwise", "roll the arm counterclockwise", "roll the wrist counterclockwise", "roll left"),
        ("roll arm clockwise", "roll the arm clockwise", "roll the wrist clockwise", "roll right"),
    ),
    "pitch": (
        ("tilt arm up", "tilt the arm up", "pitch the arm up", "tilt the gripper up"),
        ("tilt arm down", "tilt the arm down", "pitch the arm down", "tilt the gripper down"),
    ),
    "yaw": (
        ("yaw arm counterclockwise", "yaw the arm counterclockwise", "turn the arm counterclockwise", "yaw left"),
        ("yaw arm clockwise", "yaw the arm clockwise", "turn the arm clockwise", "yaw right"),
    ),
    "gripper_rotation": (
        (
            "rotate the gripper counterclockwise",
            "turn the gripper counterclockwise",
            "twist the gripper counterclockwise",
            "spin the gripper counterclockwise",
        ),
        (
            "rotate the gripper clockwise",
            "turn the gripper clockwise",
            "twist the gripper clockwise",
            "spin the gripper clockwise",
        ),
    ),
}

# Vague amount words, from smallest to largest rank.
AMOUNT_WORDS: tuple[tuple[str, ...], ...] = (
    ("slightly", "a tiny bit", "just a little", "a touch"),
    ("a bit", "a little", "somewhat", "a small amount"),
    ("a fair amount", "quite a bit", "moderately", "a good amount"),
    ("a lot", "far", "a long way", "a great deal"),
)

GRIPPER_PHRASES: dict[str, tuple[str, ...]] = {
    CLOSE_TEXT: ("close the gripper", "grasp it", "grip", "close the hand", "grab it", "close the fingers", "shut the gripper"),
    OPEN_TEXT: ("open the gripper", "release it", "let go", "open the hand", "open the fingers", "drop it"),
}


def amount_rank(level: int, n_levels: int) -> int:
    """Rank 0..3 of magnitude ``level`` among ``n_levels`` on its axis."""
    if n_levels <= 1:
        return 1
    return int(round(level * (len(AMOUNT_WORDS) - 1) / (n_levels - 1)))


def _numeric_phrases(motion: Motion) -> tuple[str, ...]:
    mag = abs(motion.value)
    if motion.axis in POSITION_AXES:
        cm = mag * 100
        return (position_phrase(mag), f"{cm:g} cm", f"{cm:g}cm")
    deg = math.degrees(mag)
    return (rotation_phrase(round(deg, 6)), f"{deg:g} deg")


def paraphrases(vocabulary: Vocabulary, motion_id: int) -> tuple[str, ...]:
    """Every phrasing we wrote for one motion; the canonical text comes first."""
    motion = vocabulary[motion_id]
    if motion.is_gripper:
        alts = GRIPPER_PHRASES.get(motion.text, ())
        return (motion.text,) + tuple(a for a in alts if a != motion.text)
    directions = DIRECTION_PHRASES[motion.axis][1 if motion.sign > 0 else 0]
    n_levels = len(vocabulary.axis_levels(motion.axis))
    words = AMOUNT_WORDS[amount_rank(motion.level, n_levels)]
    out = [motion.text]
    for direction in directions:
        for number in _numeric_phrases(motion):
            out.append(f"{direction} by {number}")
            out.append(f"{direction} {number}")
        for word in words:
            out.append(f"{direction} {word}")
    seen: set[str] = set()
    return tuple(p for p in out if not (p in seen or seen.add(p)))


def random_paraphrase(vocabulary: Vocabulary, motion_id: int, rng: np.random.Generator) -> str:
    """One phrasing drawn uniformly from :func:`paraphrases`."""
    options = paraphrases(vocabulary, motion_id)
    return options[int(rng.integers(len(options)))]
