"""Translators: free language supervision -> one motion of a vocabulary.

Two implementations behind one small interface (:class:`Translator`):

- :class:`RuleTranslator` (the default) works offline: it knows the
  direction phrases and amount words of :mod:`cliprt_envs.motions` (the
  source of truth) plus common synonyms, reads numbers with units ("3 cm",
  "five centimeters", "15 degrees", "a quarter turn") and maps them to the
  nearest magnitude of whatever vocabulary it is given, with the same
  right-inclusive midpoint bins as :meth:`Vocabulary.nearest`.
- :class:`LLMTranslator` asks any OpenAI-compatible chat endpoint, with a
  prompt that lists the vocabulary and in-context examples (the CLIP-RT
  paper used an LLM, Appendix C; its prompt is not published).

Every answer goes through :func:`validated` before anything moves: a
translation either names a motion of the vocabulary, or it carries a message
for the person and no motion. Nothing here ever moves a robot.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, runtime_checkable

import numpy as np

from cliprt_envs.motions import (
    AMOUNT_WORDS,
    DIRECTION_PHRASES,
    GRIPPER_PHRASES,
    POSITION_AXES,
    UnknownMotionError,
    Vocabulary,
    amount_rank,
    normalize_text,
    paraphrases,
)

# -- results ------------------------------------------------------------------


@dataclass(frozen=True)
class Translation:
    """The outcome of translating one utterance.

    ``motion_id`` is None when the utterance was unclear or invalid; then
    ``message`` says why, as a question the person can answer. When a motion
    was found, ``message`` may carry a note (e.g. how a number was rounded).
    """

    text: str
    motion_id: int | None = None
    motion_text: str | None = None
    message: str = ""
    source: str = "rules"

    @property
    def ok(self) -> bool:
        return self.motion_id is not None


@runtime_checkable
class Translator(Protocol):
    """Anything that turns supervision text into a :class:`Translation`."""

    vocabulary: Vocabulary

    def translate(self, text: str, *, instruction: str = "") -> Translation: ...


def validated(translation: Translation, vocabulary: Vocabulary) -> Translation:
    """Check a translation against the vocabulary; anything off becomes 'ask again'.

    A motion id must exist and, when the translator also gave the motion's
    text, the two must agree. This is the last gate before the robot moves.
    """
    if translation.motion_id is None:
        if not translation.message:
            return Translation(translation.text, None, None, "I did not understand; please rephrase", translation.source)
        return translation
    mid = translation.motion_id
    if isinstance(mid, bool) or not isinstance(mid, (int, np.integer)) or mid not in vocabulary:
        return Translation(
            translation.text, None, None, f"internal error: {mid!r} is not a motion id; please rephrase", translation.source
        )
    text = vocabulary.text(int(mid))
    if translation.motion_text is not None and normalize_text(translation.motion_text) != normalize_text(text):
        return Translation(
            translation.text,
            None,
            None,
            f"the translation {translation.motion_text!r} does not match motion {mid}; please rephrase",
            translation.source,
        )
    return Translation(translation.text, int(mid), text, translation.message, translation.source)


# -- the offline translator ------------------------------------------------------

_ONES = {
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
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_FRACTIONS = {"half": 0.5, "quarter": 0.25}

#: unit word -> (kind, factor to metres or radians)
_UNITS: dict[str, tuple[str, float]] = {
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

_POSITION_WORDS: dict[str, tuple[str, int]] = {
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
_POSITION_PHRASES: dict[str, tuple[str, int]] = {
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
_ROTATION_VERBS: dict[str, str | None] = {
    "roll": "roll",
    "tilt": "pitch",
    "pitch": "pitch",
    "yaw": "yaw",
    "rotate": None,
    "turn": None,
    "twist": None,
    "spin": None,
}
_ROTATION_DIRECTIONS = {"clockwise": 1, "counterclockwise": -1}
_GRIPPER_NOUNS = frozenset({"gripper", "wrist", "hand", "tool", "claw", "fingers", "effector", "jaws"})
_ARM_NOUNS = frozenset({"arm", "robot", "manipulator"})
_CLOSE_WORDS = frozenset(
    {"close", "shut", "grasp", "grip", "grab", "clamp", "pinch", "squeeze", "clench", "seize", "catch", "hold"}
)
_OPEN_WORDS = frozenset({"open", "release", "ungrasp", "unclamp", "loosen", "letgo", "unclench", "drop"})
_NEGATIONS = frozenset({"not", "dont", "don", "never", "no", "stop", "without", "avoid"})
_STOPWORDS = frozenset(
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


_AMOUNTS = _amount_table()


@dataclass(frozen=True)
class RuleTranslatorConfig:
    """Choices of the offline translator.

    ``default_amount``: the amount rank (0 "slightly" .. 3 "a lot") used when
    the person names a direction but no amount; None asks "how far?".
    ``bare_numbers``: a number without unit means centimetres (moves) or
    degrees (rotations); False asks for the unit.
    ``fix_typos``: correct near-miss words ("lfet" -> "left").
    """

    default_amount: int | None = None
    bare_numbers: bool = True
    fix_typos: bool = True

    def __post_init__(self) -> None:
        if self.default_amount is not None and not 0 <= self.default_amount < len(AMOUNT_WORDS):
            raise ValueError(f"default_amount must be None or 0..{len(AMOUNT_WORDS) - 1}, got {self.default_amount}")


@dataclass
class _Parse:
    tokens: list[str]
    numbers: list[tuple[int, float]]  # (token index, value)


class RuleTranslator:
    """Offline, deterministic translation by direction words, amounts and numbers."""

    source = "rules"

    def __init__(self, vocabulary: Vocabulary, config: RuleTranslatorConfig = RuleTranslatorConfig()) -> None:
        self.vocabulary = vocabulary
        self.config = config

    # -- look-up tables built from the vocabulary ------------------------------
    @cached_property
    def _phrase_table(self) -> dict[str, int]:
        """Every paraphrase we wrote (and every motion text) -> its motion id."""
        table: dict[str, int] = {}
        clash: set[str] = set()
        for motion in self.vocabulary:
            for phrase in paraphrases(self.vocabulary, motion.id):
                key = _canonical(phrase)
                if key in table and table[key] != motion.id:
                    clash.add(key)
                table.setdefault(key, motion.id)
        for key in clash:
            del table[key]
        for motion in self.vocabulary:
            table[_canonical(motion.text)] = motion.id
        return table

    @cached_property
    def _lexicon(self) -> list[str]:
        words = set(_POSITION_WORDS) | set(_ROTATION_VERBS) | set(_ROTATION_DIRECTIONS) | _GRIPPER_NOUNS | _ARM_NOUNS
        words |= _CLOSE_WORDS | _OPEN_WORDS | set(_UNITS) | set(_ONES) | set(_TENS) | set(_FRACTIONS)
        for phrase, _ in _AMOUNTS:
            words.update(phrase)
        for neg, pos in DIRECTION_PHRASES.values():
            for p in (*neg, *pos):
                words.update(p.split())
        return sorted(w for w in words if len(w) >= 3)

    @cached_property
    def _lexicon_set(self) -> frozenset[str]:
        return frozenset(self._lexicon)

    # -- API ----------------------------------------------------------------------
    def translate(self, text: str, *, instruction: str = "") -> Translation:
        """Translate ``text``; ``instruction`` is unused (rules need no context)."""
        del instruction
        if not isinstance(text, str):
            return self._unclear(str(text), "supervision must be text")
        key = _canonical(text)
        if not key:
            return self._unclear(text, "say how the arm should move, e.g. 'move left a bit' or 'lower the arm 5 cm'")
        if key in self._phrase_table:
            mid = self._phrase_table[key]
            return validated(Translation(text, mid, self.vocabulary.text(mid), "", self.source), self.vocabulary)
        return validated(self._parse(text, key), self.vocabulary)

    # -- parsing ---------------------------------------------------------------------
    def _unclear(self, text: str, message: str) -> Translation:
        return Translation(text, None, None, message, self.source)

    def _parse(self, text: str, key: str) -> Translation:
        parse = _numbers(key.split())
        tokens = parse.tokens
        if any(t in _NEGATIONS for t in tokens):
            return self._unclear(text, "say what the arm should do (I do not follow 'don't' or 'stop'), e.g. 'move right a bit'")
        if self.config.fix_typos:
            tokens = [self._fix(t) for t in tokens]
            parse = _numbers(tokens)
            tokens = parse.tokens
        if any(t in _NEGATIONS for t in tokens):
            return self._unclear(text, "say what the arm should do (I do not follow 'don't' or 'stop'), e.g. 'move right a bit'")
        joined = " " + " ".join(tokens) + " "

        # Gripper open/close.
        close = any(t in _CLOSE_WORDS for t in tokens)
        open_ = any(t in _OPEN_WORDS for t in tokens)
        if "drop" in tokens and ("arm" in tokens or "down" in tokens or parse.numbers or _amount_ranks(tokens)):
            open_ = any(t in _OPEN_WORDS - {"drop"} for t in tokens)
            tokens = ["down" if t == "drop" else t for t in tokens]
            joined = " " + " ".join(tokens) + " "

        # Rotations.
        rot_verbs = [t for t in tokens if t in _ROTATION_VERBS]
        rotation: tuple[str, int] | None = None
        used_position_words: set[str] = set()
        if rot_verbs:
            axes = {self._rotation_axis(v, tokens) for v in rot_verbs}
            axes.discard(None)
            if not axes:
                return self._unclear(
                    text,
                    "rotate how? say 'roll', 'tilt', 'yaw' or 'rotate the gripper', "
                    "e.g. 'rotate the gripper 15 degrees clockwise'",
                )
            if len(axes) > 1:
                return self._unclear(text, "one rotation at a time, please")
            axis = axes.pop()
            sign, used_position_words = _rotation_sign(axis, tokens)
            if sign is None:
                return self._unclear(text, f"which way should the {_axis_name(axis)} go: clockwise or counterclockwise?")
            if sign == 0:
                return self._unclear(text, "that names both directions; please give one")
            rotation = (axis, sign)

        # Translations.
        moves: set[tuple[str, int]] = set()
        for phrase, move in _POSITION_PHRASES.items():
            if f" {phrase} " in joined:
                moves.add(move)
                used_position_words.update(phrase.split())
        for t in tokens:
            if t in _POSITION_WORDS and t not in used_position_words:
                if t == "away" and any(p.startswith("away") for p in _POSITION_PHRASES if f" {p} " in joined):
                    continue
                moves.add(_POSITION_WORDS[t])

        intents = int(close or open_) + int(rotation is not None) + int(bool(moves))
        if close and open_:
            return self._unclear(text, "open or close the gripper? please say one")
        if intents == 0:
            return self._unclear(
                text, "which way should the arm move? e.g. 'move left a bit', 'raise the arm 5 cm' or 'close the gripper'"
            )
        if intents > 1 or len(moves) > 1:
            return self._unclear(text, "one motion at a time, please (e.g. first 'move left a bit', then 'lower the arm a lot')")
        if close or open_:
            ids = self.vocabulary.gripper_ids
            if ids is None:
                return self._unclear(text, f"vocabulary {self.vocabulary.name!r} has no gripper commands")
            mid = ids[0] if close else ids[1]
            return Translation(text, mid, self.vocabulary.text(mid), "", self.source)
        axis, sign = rotation if rotation is not None else next(iter(moves))
        return self._magnitude(text, axis, sign, parse)

    def _rotation_axis(self, verb: str, tokens: list[str]) -> str | None:
        axis = _ROTATION_VERBS[verb]
        if axis is not None:
            return axis
        if any(t in _GRIPPER_NOUNS for t in tokens):
            return "gripper_rotation"
        if any(t in _ARM_NOUNS for t in tokens):
            return "yaw"
        return None

    def _fix(self, token: str) -> str:
        if len(token) < 4 or not token.isalpha() or token in _STOPWORDS or token in _NEGATIONS or token in self._lexicon_set:
            return token
        for i in range(len(token) - 1):  # one swapped pair of letters: "lfet" -> "left"
            swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if swapped in self._lexicon_set:
                return swapped
        cutoff = 0.75 if len(token) <= 5 else 0.8
        near = difflib.get_close_matches(token, self._lexicon, n=1, cutoff=cutoff)
        return near[0] if near else token

    def _magnitude(self, text: str, axis: str, sign: int, parse: _Parse) -> Translation:
        vocab = self.vocabulary
        if vocab.find(axis, sign, 0) is None:
            return self._unclear(text, f"vocabulary {vocab.name!r} has no {_axis_name(axis)} motions")
        kind = "position" if axis in POSITION_AXES else "rotation"
        levels = vocab.axis_levels(axis)
        quantities, bare = _quantities(parse)
        if len(quantities) + len(bare) > 1:
            return self._unclear(text, "give one amount, e.g. '5 cm' or 'a bit'")
        note = ""
        if quantities:
            qkind, value = quantities[0]
            if qkind != kind:
                example = "5 cm" if kind == "position" else "15 degrees"
                return self._unclear(
                    text, f"a {_axis_name(axis)} needs a {'distance' if kind == 'position' else 'angle'}, e.g. {example}"
                )
        elif bare:
            if not self.config.bare_numbers:
                return self._unclear(text, "please add a unit: centimeters or degrees")
            value = bare[0] * (0.01 if kind == "position" else math.pi / 180)
            note = f"read {bare[0]:g} as {'centimeters' if kind == 'position' else 'degrees'}"
        else:
            ranks = _amount_ranks(parse.tokens)
            if len(ranks) > 1:
                return self._unclear(text, "that names two amounts; please give one")
            rank = ranks.pop() if ranks else self.config.default_amount
            if rank is None:
                return self._unclear(text, "how far? add an amount, e.g. 'a bit', 'a lot' or '5 cm'")
            level = _level_for_rank(rank, len(levels))
            mid = vocab.find(axis, sign, level)
            return Translation(text, mid, None if mid is None else vocab.text(mid), "", self.source)
        if not value > 0 or not math.isfinite(value):
            return self._unclear(text, "the amount must be more than zero")
        delta = np.zeros(8)
        delta[("x", "y", "z", "roll", "pitch", "yaw", "gripper_rotation").index(axis)] = sign * value
        mid = vocab.nearest(delta, min_position=0.0, min_rotation=0.0)
        if mid is None:  # pragma: no cover - the axis exists, so nearest always answers
            return self._unclear(text, "that amount matches no motion; please rephrase")
        chosen = abs(vocab[mid].value)
        unit = 100.0 if kind == "position" else 180 / math.pi
        name = "cm" if kind == "position" else "degrees"
        if not math.isclose(chosen, value, rel_tol=1e-6, abs_tol=1e-9):
            rounded = f"{value * unit:g} {name} -> {chosen * unit:g} {name} (nearest motion)"
            if value > levels[-1] * 1.5:
                rounded += f"; {levels[-1] * unit:g} {name} is the largest single motion"
            note = f"{note}; {rounded}" if note else rounded
        return Translation(text, mid, vocab.text(mid), note, self.source)


def _canonical(text: str) -> str:
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


def _numbers(tokens: list[str]) -> _Parse:
    """Turn number words and digits into numbers; returns tokens with numbers as text."""
    out: list[str] = []
    numbers: list[tuple[int, float]] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        value: float | None = None
        j = i
        if re.fullmatch(r"\d+(\.\d+)?|\.\d+", t):
            value, j = float(t), i + 1
        elif t in _TENS:
            value, j = float(_TENS[t]), i + 1
            if j < len(tokens) and tokens[j] in _ONES and _ONES[tokens[j]] < 10:
                value += _ONES[tokens[j]]
                j += 1
        elif t in _ONES:
            value, j = float(_ONES[t]), i + 1
        elif t in _FRACTIONS:
            value, j = _FRACTIONS[t], i + 1
        elif t in ("a", "an") and i + 1 < len(tokens) and (tokens[i + 1] in _UNITS or tokens[i + 1] in _FRACTIONS):
            if tokens[i + 1] in _UNITS:
                value, j = 1.0, i + 1
            else:  # "a quarter turn", "a half turn"
                value, j = _FRACTIONS[tokens[i + 1]], i + 2
        elif t == "couple" and out and out[-1] == "a":
            out.pop()
            value, j = 2.0, i + 1
            if j < len(tokens) and tokens[j] == "of":
                j += 1
        if value is None:
            out.append(t)
            i += 1
            continue
        # "point five", "and a half", "half a"
        if j + 1 < len(tokens) and tokens[j] == "point" and tokens[j + 1] in _ONES:
            value += _ONES[tokens[j + 1]] / 10
            j += 2
        if j + 2 < len(tokens) and tokens[j : j + 3] == ["and", "a", "half"]:
            value += 0.5
            j += 3
        if j < len(tokens) and tokens[j] in ("a", "an") and t in _FRACTIONS:
            j += 1
        numbers.append((len(out), value))
        out.append(f"{value:g}")
        i = j
    return _Parse(out, numbers)


def _quantities(parse: _Parse) -> tuple[list[tuple[str, float]], list[float]]:
    """Numbers followed by a unit (kind, SI value), and bare numbers."""
    quantities: list[tuple[str, float]] = []
    bare: list[float] = []
    for index, value in parse.numbers:
        nxt = parse.tokens[index + 1] if index + 1 < len(parse.tokens) else ""
        if nxt in _UNITS:
            kind, factor = _UNITS[nxt]
            quantities.append((kind, value * factor))
        else:
            bare.append(value)
    return quantities, bare


def _amount_ranks(tokens: list[str]) -> set[int]:
    ranks: set[int] = set()
    used = [False] * len(tokens)
    for phrase, rank in _AMOUNTS:
        n = len(phrase)
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i : i + n]) == phrase and not any(used[i : i + n]):
                ranks.add(rank)
                for k in range(i, i + n):
                    used[k] = True
    return ranks


def _level_for_rank(rank: int, n_levels: int) -> int:
    """The magnitude level whose amount rank is closest to ``rank`` (smaller on ties)."""
    return min(range(n_levels), key=lambda lv: (abs(amount_rank(lv, n_levels) - rank), lv))


def _rotation_sign(axis: str, tokens: list[str]) -> tuple[int | None, set[str]]:
    """Direction of a rotation: +1, -1, None (not said) or 0 (both said); and the words used."""
    signs: set[int] = set()
    used: set[str] = set()
    for t in tokens:
        if t in _ROTATION_DIRECTIONS:
            signs.add(_ROTATION_DIRECTIONS[t])
    if axis == "pitch":
        pitch_words = {"up": -1, "upward": -1, "upwards": -1, "back": -1, "backward": -1, "backwards": -1}
        pitch_words |= {"down": 1, "downward": 1, "downwards": 1, "forward": 1, "forwards": 1}
        for t in tokens:
            if t in pitch_words:
                signs.add(pitch_words[t])
                used.add(t)
    else:
        for t in tokens:
            if t in ("left", "right"):
                signs.add(-1 if t == "left" else 1)
                used.add(t)
    if not signs:
        return None, used
    if len(signs) > 1:
        return 0, used
    return signs.pop(), used


def _axis_name(axis: str) -> str:
    return {
        "x": "forward/back move",
        "y": "left/right move",
        "z": "up/down move",
        "roll": "roll",
        "pitch": "tilt",
        "yaw": "yaw",
        "gripper_rotation": "gripper rotation",
    }[axis]


# -- the LLM translator ------------------------------------------------------------

ENV_URL = "CLIPRT_LLM_URL"
ENV_MODEL = "CLIPRT_LLM_MODEL"
ENV_KEY = "CLIPRT_LLM_API_KEY"


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to ask an OpenAI-compatible chat endpoint.

    ``url`` is the API base (``http://host:port/v1``) or the full
    ``.../chat/completions`` address.
    """

    url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    temperature: float = 0.0
    max_tokens: int = 64
    n_examples: int = 14

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> LLMConfig:
        """Read ``CLIPRT_LLM_URL``, ``CLIPRT_LLM_MODEL`` and ``CLIPRT_LLM_API_KEY``.

        ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` are used when the cliprt
        variables are unset.
        """
        env = os.environ if environ is None else environ
        url = env.get(ENV_URL) or env.get("OPENAI_BASE_URL")
        model = env.get(ENV_MODEL)
        missing = [n for n, v in ((ENV_URL, url), (ENV_MODEL, model)) if not v]
        if missing:
            raise ValueError(
                f"the LLM translator needs {' and '.join(missing)} (e.g. export {ENV_URL}=http://localhost:8000/v1 "
                f"{ENV_MODEL}=my-model; {ENV_KEY} if the server wants a key), or use --translator offline"
            )
        key = env.get(ENV_KEY) or env.get("OPENAI_API_KEY") or None
        return cls(url=str(url), model=str(model), api_key=key, **overrides)  # type: ignore[arg-type]

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


_SYSTEM_PROMPT = """You translate what a person says to a UR5 robot arm into exactly one motion from a fixed list.
The person is teaching the task: "{instruction}".
Robot frame: x points forward (away from the robot base), y to the robot's left, z up.
Rules:
- Answer with one line: a motion copied exactly, word for word, from the list below.
- Pick the closest amount: "slightly" means the smallest step, "a lot" the largest; numbers go to the nearest listed amount.
- If the request is unclear, asks for more than one motion, or matches no motion,
  answer "UNCLEAR: " followed by a short question for the person.
Motions:
{motions}"""


class LLMTranslator:
    """Translation by a chat model behind an OpenAI-compatible HTTP endpoint.

    Uses only the standard library (``urllib``). Network errors, refusals and
    answers that are not exactly a motion of the vocabulary all come back as
    unclear translations with a message; the robot never moves on them.
    """

    source = "llm"

    def __init__(self, vocabulary: Vocabulary, config: LLMConfig) -> None:
        self.vocabulary = vocabulary
        self.config = config

    def system_prompt(self, instruction: str = "") -> str:
        motions = "\n".join(f"- {m.text}" for m in self.vocabulary)
        return _SYSTEM_PROMPT.format(instruction=instruction or "(not given)", motions=motions)

    def examples(self) -> list[tuple[str, str]]:
        """In-context (supervision, answer) pairs, derived from the vocabulary's paraphrases."""
        rng = np.random.default_rng(0)
        vocab = self.vocabulary
        pairs: list[tuple[str, str]] = []
        arm = [m for m in vocab if not m.is_gripper]
        picks = rng.choice(len(arm), size=min(len(arm), max(0, self.config.n_examples - 4)), replace=False) if arm else []
        for k, i in enumerate(picks):
            motion = arm[int(i)]
            options = [p for p in paraphrases(vocab, motion.id)[1:] if (k % 2 == 0) == any(c.isdigit() for c in p)]
            options = options or list(paraphrases(vocab, motion.id))
            pairs.append((options[int(rng.integers(len(options)))], motion.text))
        for motion in vocab:
            if motion.is_gripper:
                alts = GRIPPER_PHRASES.get(motion.text, ())
                pairs.append((alts[1] if len(alts) > 1 else motion.text, motion.text))
        pairs.append(("move left and then down", "UNCLEAR: one motion at a time, please: left or down first?"))
        pairs.append(("do the thing", "UNCLEAR: which way should the arm move, and how far?"))
        return pairs

    def messages(self, text: str, instruction: str = "") -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system_prompt(instruction)}]
        for user, answer in self.examples():
            msgs.append({"role": "user", "content": user})
            msgs.append({"role": "assistant", "content": answer})
        msgs.append({"role": "user", "content": text})
        return msgs

    def translate(self, text: str, *, instruction: str = "") -> Translation:
        if not isinstance(text, str) or not text.strip():
            return Translation(str(text), None, None, "say how the arm should move", self.source)
        body = {
            "model": self.config.model,
            "messages": self.messages(text.strip(), instruction),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        try:
            content = self._post(body)
        except _LLMError as exc:
            return Translation(text, None, None, str(exc), self.source)
        return validated(self.parse_answer(text, content), self.vocabulary)

    def parse_answer(self, text: str, content: str) -> Translation:
        """Read the model's answer: a motion text, ``UNCLEAR: question`` or JSON ``{"motion": ...}``."""
        answer = content.strip()
        if answer.startswith("{"):
            try:
                obj = json.loads(answer)
                answer = str(obj.get("motion") or (obj.get("unclear") and f"UNCLEAR: {obj['unclear']}") or "")
            except (json.JSONDecodeError, AttributeError):
                pass
        lines = [ln.strip() for ln in answer.splitlines() if ln.strip()]
        answer = lines[0] if lines else ""
        answer = re.sub(r"^(motion|answer)\s*:\s*", "", answer, flags=re.IGNORECASE).strip().strip("`\"'").strip()
        if answer.upper().startswith("UNCLEAR"):
            question = answer[len("UNCLEAR") :].lstrip(" :-").strip()
            return Translation(text, None, None, question or "please rephrase", self.source)
        if not answer:
            return Translation(text, None, None, "the language model gave no answer; please rephrase", self.source)
        try:
            mid = self.vocabulary.id_of(answer)
        except UnknownMotionError:
            return Translation(
                text, None, None, f"the language model answered {answer!r}, which is not a motion; please rephrase", self.source
            )
        return Translation(text, mid, self.vocabulary.text(mid), "", self.source)

    def _post(self, body: dict[str, object]) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.config.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
        where = self.config.endpoint
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            hint = "; check CLIPRT_LLM_API_KEY" if exc.code in (401, 403) else ""
            raise _LLMError(
                f"the language model at {where} answered HTTP {exc.code} ({detail or exc.reason}){hint}; try again"
            ) from None
        except TimeoutError:
            raise _LLMError(
                f"the language model at {where} did not answer within {self.config.timeout_s:g} s; try again"
            ) from None
        except urllib.error.URLError as exc:
            raise _LLMError(
                f"cannot reach the language model at {where} ({exc.reason}); check CLIPRT_LLM_URL or use --translator offline"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _LLMError(f"the language model at {where} did not return JSON; is it an OpenAI-compatible endpoint?") from None
        try:
            return str(payload["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise _LLMError(f"unexpected reply from {where}: no choices[0].message.content") from None


class _LLMError(Exception):
    pass


def make_translator(kind: str, vocabulary: Vocabulary, **options: object) -> Translator:
    """``"offline"`` (rules) or ``"llm"`` (settings from the environment)."""
    if kind in ("offline", "rules"):
        return RuleTranslator(vocabulary, RuleTranslatorConfig(**options))  # type: ignore[arg-type]
    if kind == "llm":
        return LLMTranslator(vocabulary, LLMConfig.from_env(**options))
    raise ValueError(f"unknown translator {kind!r}; use 'offline' or 'llm'")
