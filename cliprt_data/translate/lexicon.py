"""The offline translator's words: numbers, units, amounts, directions, synonyms; and reading numbers out of tokens."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cliprt_envs.motions import (
    AMOUNT_WORDS,
    normalize_text,
)

ONES = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
FRACTIONS = {"half": 0.5, "quarter": 0.25}

#: unit word -> (kind, factor to metres or radians)
UNITS: dict[str, tuple[str, float]] = {
    **{u: ("position", 0.001) for u in ("mm", "millimeter", "millimeters", "millimetre", "millimetres")},
    **{u: ("position", 0.01) for u in ("cm", "cms", "centimeter", "centimeters", "centimetre", "centimetres", "centi")},
    **{u: ("position", 1.0) for u in ("m", "meter", "meters", "metre", "metres")},
    **{u: ("position", 0.0254) for u in ("inch", "inches")},
    **{u: ("rotation", math.pi / 180) for u in ("deg", "degs", "degree", "degrees")},
    **{u: ("rotation", 1.0) for u in ("rad", "rads", "radian", "radians")},
    **{u: ("rotation", 2 * math.pi) for u in ("turn", "turns", "revolution", "revolutions")},
}

# Extra amount phrases beyond cliprt_envs.motions.AMOUNT_WORDS, by rank 0..3.
_EXTRA_AMOUNTS: tuple[tuple[str, ...], ...] = (
    (
        "tiny",
        "a tiny amount",
        "a hair",
        "a smidge",
        "a tad",
        "barely",
        "a teeny bit",
        "very slightly",
        "ever so slightly",
        "a wee bit",
        "a nudge",
        "nudge",
        "minimally",
        "marginally",
        "a very small amount",
        "a little tiny bit",
        "the smallest step",
        "smallest",
        "fine",
        "a very little",
    ),
    (
        "a little bit",
        "a small step",
        "a small bit",
        "a short way",
        "small",
        "a bit more",
        "a little more",
        "little",
        "bit",
        "some",
    ),
    (
        "a fair bit",
        "a medium amount",
        "medium",
        "moderate",
        "a decent amount",
        "a reasonable amount",
        "a good bit",
        "fairly far",
        "a medium step",
        "quite a way",
    ),
    (
        "a lot more",
        "lots",
        "much",
        "way",
        "significantly",
        "considerably",
        "a large amount",
        "a big step",
        "big",
        "large",
        "a long distance",
        "really far",
        "very far",
        "a ton",
        "loads",
        "largest",
        "the largest step",
        "as far as possible",
    ),
)

POSITION_WORDS: dict[str, tuple[str, int]] = {
    **{w: ("x", 1) for w in ("forward", "forwards", "ahead", "outward", "outwards", "extend", "front", "away")},
    **{w: ("x", -1) for w in ("back", "backward", "backwards", "retract", "inward", "inwards", "rearward", "rearwards")},
    **{w: ("y", 1) for w in ("left", "leftward", "leftwards", "port")},
    **{w: ("y", -1) for w in ("right", "rightward", "rightwards", "starboard")},
    **{
        w: ("z", 1) for w in ("up", "upward", "upwards", "raise", "lift", "higher", "ascend", "rise", "elevate", "hoist", "above")
    },
    **{w: ("z", -1) for w in ("down", "downward", "downwards", "lower", "descend", "sink", "below", "dip")},
}
# Multi-word position phrases (checked on the token string before single words).
POSITION_PHRASES: dict[str, tuple[str, int]] = {
    "toward the base": ("x", -1),
    "towards the base": ("x", -1),
    "toward the robot": ("x", -1),
    "towards the robot": ("x", -1),
    "toward me": ("x", -1),
    "towards me": ("x", -1),
    "away from the base": ("x", 1),
    "away from the robot": ("x", 1),
    "away from me": ("x", 1),
}
ROTATION_VERBS: dict[str, str | None] = {
    "roll": "roll",
    "tilt": "pitch",
    "pitch": "pitch",
    "yaw": "yaw",
    "rotate": None,
    "turn": None,
    "twist": None,
    "spin": None,
}
ROTATION_DIRECTIONS = {"clockwise": 1, "counterclockwise": -1}
GRIPPER_NOUNS = frozenset({"gripper", "wrist", "hand", "tool", "claw", "fingers", "effector", "jaws"})
ARM_NOUNS = frozenset({"arm", "robot", "manipulator"})
CLOSE_WORDS = frozenset(
    {"close", "shut", "grasp", "grip", "grab", "clamp", "pinch", "squeeze", "clench", "seize", "catch", "hold"}
)
OPEN_WORDS = frozenset({"open", "release", "ungrasp", "unclamp", "loosen", "letgo", "unclench", "drop"})
NEGATIONS = frozenset({"not", "dont", "don", "never", "no", "stop", "without", "avoid"})
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "it",
        "its",
        "this",
        "that",
        "to",
        "by",
        "of",
        "and",
        "then",
        "please",
        "now",
        "move",
        "go",
        "bring",
        "shift",
        "slide",
        "push",
        "pull",
        "make",
        "put",
        "your",
        "you",
        "can",
        "could",
        "would",
        "will",
        "me",
        "my",
        "i",
        "we",
        "us",
        "our",
        "be",
        "is",
        "are",
        "more",
        "again",
        "okay",
        "ok",
        "just",
        "very",
        "so",
        "bit",
        "little",
        "some",
        "step",
        "steps",
        "amount",
        "way",
        "along",
        "axis",
        "position",
        "direction",
        "slowly",
        "quickly",
        "carefully",
        "gently",
        "object",
        "thing",
        "cube",
        "block",
        "item",
        "toward",
        "towards",
        "from",
        "with",
        "on",
        "in",
        "at",
        "for",
        "further",
        "farther",
    }
)


def _amount_table() -> list[tuple[tuple[str, ...], int]]:
    table: dict[tuple[str, ...], int] = {}
    for rank, words in enumerate(AMOUNT_WORDS):
        for w in words:
            table[tuple(normalize_text(w).split())] = rank
    for rank, words in enumerate(_EXTRA_AMOUNTS):
        for w in words:
            table.setdefault(tuple(normalize_text(w).split()), rank)
    return sorted(table.items(), key=lambda kv: -len(kv[0]))


AMOUNTS = _amount_table()


@dataclass
class Parse:
    tokens: list[str]
    numbers: list[tuple[int, float]]  # (token index, value)


def canonical(text: str) -> str:
    """Lower-case, units split from numbers, punctuation and hyphens to spaces, synonyms unified."""
    t = normalize_text(text.replace("\u2019", "'"))
    t = t.replace("°", " degrees ").replace("º", " degrees ")
    t = t.replace("let go", "letgo")
    t = re.sub(r"\b(counter|anti)[\s-]*clockwise\b|\bccw\b", "counterclockwise", t)
    t = re.sub(r"\bcw\b", "clockwise", t)
    t = re.sub(r"\bend[\s-]*effector\b", "effector", t)
    t = re.sub(r"(\d)([a-z])", r"\1 \2", t)
    t = re.sub(r"([a-z])(\d)", r"\1 \2", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)  # full stops, not decimal points
    t = re.sub(r"[^\w\s.]", " ", t.replace("-", " ").replace("'", ""))
    return re.sub(r"\s+", " ", t).strip()


def read_numbers(tokens: list[str]) -> Parse:
    """Turn number words and digits into numbers; returns tokens with numbers as text."""
    out: list[str] = []
    numbers: list[tuple[int, float]] = []
    i = 0
    while i < len(tokens):
        found = _number_at(tokens, i, out)
        if found is None:
            out.append(tokens[i])
            i += 1
            continue
        value, j = _number_tail(tokens, tokens[i], *found)
        numbers.append((len(out), value))
        out.append(f"{value:g}")
        i = j
    return Parse(out, numbers)


def _number_at(tokens: list[str], i: int, out: list[str]) -> tuple[float, int] | None:
    """The number that starts at token ``i`` and the index after it, or None.

    "a couple" takes back the "a" already in ``out``.
    """
    t = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if re.fullmatch(r"\d+(\.\d+)?|\.\d+", t):
        return float(t), i + 1
    if t in TENS:
        if nxt in ONES and ONES[nxt] < 10:
            return float(TENS[t]) + ONES[nxt], i + 2
        return float(TENS[t]), i + 1
    if t in ONES:
        return float(ONES[t]), i + 1
    if t in FRACTIONS:
        return FRACTIONS[t], i + 1
    if t in ("a", "an") and nxt in UNITS:  # "a centimeter": the unit stays
        return 1.0, i + 1
    if t in ("a", "an") and nxt in FRACTIONS:  # "a quarter turn", "a half turn"
        return FRACTIONS[nxt], i + 2
    if t == "couple" and out and out[-1] == "a":
        out.pop()
        return 2.0, i + 2 if nxt == "of" else i + 1
    return None


def _number_tail(tokens: list[str], first: str, value: float, j: int) -> tuple[float, int]:
    """Extend a number read up to token ``j``: "point five", "and a half", the "a" of "half a"."""
    if j + 1 < len(tokens) and tokens[j] == "point" and tokens[j + 1] in ONES:
        value += ONES[tokens[j + 1]] / 10
        j += 2
    if j + 2 < len(tokens) and tokens[j : j + 3] == ["and", "a", "half"]:
        value += 0.5
        j += 3
    if j < len(tokens) and tokens[j] in ("a", "an") and first in FRACTIONS:
        j += 1
    return value, j


def split_quantities(parse: Parse) -> tuple[list[tuple[str, float]], list[float]]:
    """Numbers followed by a unit (kind, SI value), and bare numbers."""
    quantities: list[tuple[str, float]] = []
    bare: list[float] = []
    for index, value in parse.numbers:
        nxt = parse.tokens[index + 1] if index + 1 < len(parse.tokens) else ""
        if nxt in UNITS:
            kind, factor = UNITS[nxt]
            quantities.append((kind, value * factor))
        else:
            bare.append(value)
    return quantities, bare


def amount_ranks(tokens: list[str]) -> set[int]:
    ranks: set[int] = set()
    used = [False] * len(tokens)
    for phrase, rank in AMOUNTS:
        n = len(phrase)
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i : i + n]) == phrase and not any(used[i : i + n]):
                ranks.add(rank)
                for k in range(i, i + n):
                    used[k] = True
    return ranks
