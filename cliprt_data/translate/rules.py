"""The offline translator: direction words, amounts and numbers -> one motion of any vocabulary.

It knows the direction phrases and amount words of :mod:`cliprt_envs.motions`
(the source of truth) plus the synonyms of :mod:`~cliprt_data.translate.lexicon`,
reads numbers with units ("3 cm", "five centimeters", "a quarter turn") and
maps them to the nearest magnitude of the vocabulary it is given, with the
same right-inclusive midpoint bins as :meth:`Vocabulary.nearest`.

Parsing runs in small steps (tokens, gripper words, rotation, position
moves, the one intent, its amount); a step that finds the utterance unclear
raises :class:`_Unclear` with the question for the person.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cliprt_data.translate.base import Translation, validated
from cliprt_data.translate.lexicon import (
    AMOUNTS,
    ARM_NOUNS,
    CLOSE_WORDS,
    FRACTIONS,
    GRIPPER_NOUNS,
    NEGATIONS,
    ONES,
    OPEN_WORDS,
    POSITION_PHRASES,
    POSITION_WORDS,
    ROTATION_DIRECTIONS,
    ROTATION_VERBS,
    STOPWORDS,
    TENS,
    UNITS,
    Parse,
    amount_ranks,
    canonical,
    read_numbers,
    split_quantities,
)
from cliprt_envs.motions import AMOUNT_WORDS, DIRECTION_PHRASES, MOTION_AXES, POSITION_AXES, Vocabulary, amount_rank, paraphrases


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


class _Unclear(Exception):
    """The utterance cannot become one motion; the message is the question for the person."""


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
                key = canonical(phrase)
                if key in table and table[key] != motion.id:
                    clash.add(key)
                table.setdefault(key, motion.id)
        for key in clash:
            del table[key]
        for motion in self.vocabulary:
            table[canonical(motion.text)] = motion.id
        return table

    @cached_property
    def _lexicon(self) -> list[str]:
        words = set(POSITION_WORDS) | set(ROTATION_VERBS) | set(ROTATION_DIRECTIONS) | GRIPPER_NOUNS | ARM_NOUNS
        words |= CLOSE_WORDS | OPEN_WORDS | set(UNITS) | set(ONES) | set(TENS) | set(FRACTIONS)
        for phrase, _ in AMOUNTS:
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
        key = canonical(text)
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
        """Words -> one motion, or a question when the words are unclear."""
        try:
            parse = self._tokens(key)
            close, open_, tokens = _gripper_words(parse)
            rotation, used = _rotation(tokens)
            moves = _position_moves(tokens, used)
            if close and open_:
                raise _Unclear("open or close the gripper? please say one")
            _one_intent(bool(close or open_), rotation, moves)
            if close or open_:
                return self._gripper(text, close)
            axis, sign = rotation if rotation is not None else next(iter(moves))
            return self._magnitude(text, axis, sign, parse)
        except _Unclear as exc:
            return self._unclear(text, str(exc))

    def _tokens(self, key: str) -> Parse:
        """The words with numbers read and (by default) typos fixed; refuses negations.

        One check after the typo fix is enough: :meth:`_fix` keeps negations as
        they are and reading numbers never removes them.
        """
        parse = read_numbers(key.split())
        if self.config.fix_typos:
            parse = read_numbers([self._fix(t) for t in parse.tokens])
        if any(t in NEGATIONS for t in parse.tokens):
            raise _Unclear("say what the arm should do (I do not follow 'don't' or 'stop'), e.g. 'move right a bit'")
        return parse

    def _fix(self, token: str) -> str:
        if len(token) < 4 or not token.isalpha() or token in STOPWORDS or token in NEGATIONS or token in self._lexicon_set:
            return token
        for i in range(len(token) - 1):  # one swapped pair of letters: "lfet" -> "left"
            swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if swapped in self._lexicon_set:
                return swapped
        cutoff = 0.75 if len(token) <= 5 else 0.8
        near = difflib.get_close_matches(token, self._lexicon, n=1, cutoff=cutoff)
        return near[0] if near else token

    def _gripper(self, text: str, close: bool) -> Translation:
        ids = self.vocabulary.gripper_ids
        if ids is None:
            raise _Unclear(f"vocabulary {self.vocabulary.name!r} has no gripper commands")
        mid = ids[0] if close else ids[1]
        return Translation(text, mid, self.vocabulary.text(mid), "", self.source)

    def _magnitude(self, text: str, axis: str, sign: int, parse: Parse) -> Translation:
        """The motion on ``axis`` with ``sign`` whose magnitude the words or numbers name."""
        vocab = self.vocabulary
        if vocab.find(axis, sign, 0) is None:
            raise _Unclear(f"vocabulary {vocab.name!r} has no {_axis_name(axis)} motions")
        kind = "position" if axis in POSITION_AXES else "rotation"
        quantities, bare = split_quantities(parse)
        if len(quantities) + len(bare) > 1:
            raise _Unclear("give one amount, e.g. '5 cm' or 'a bit'")
        if not quantities and not bare:
            mid = vocab.find(axis, sign, self._level(axis, parse))
            return Translation(text, mid, None if mid is None else vocab.text(mid), "", self.source)
        value, note = self._quantity(axis, kind, quantities, bare)
        return self._nearest(text, axis, sign, value, note)

    def _level(self, axis: str, parse: Parse) -> int:
        """The magnitude level that amount words ("a bit", "a lot") name, or the configured default."""
        ranks = amount_ranks(parse.tokens)
        if len(ranks) > 1:
            raise _Unclear("that names two amounts; please give one")
        rank = ranks.pop() if ranks else self.config.default_amount
        if rank is None:
            raise _Unclear("how far? add an amount, e.g. 'a bit', 'a lot' or '5 cm'")
        return _level_for_rank(rank, len(self.vocabulary.axis_levels(axis)))

    def _quantity(self, axis: str, kind: str, quantities: list[tuple[str, float]], bare: list[float]) -> tuple[float, str]:
        """The one amount given as a number, in metres or radians, and a note on how a bare number was read."""
        if quantities:
            qkind, value = quantities[0]
            if qkind != kind:
                example = "5 cm" if kind == "position" else "15 degrees"
                raise _Unclear(f"a {_axis_name(axis)} needs a {'distance' if kind == 'position' else 'angle'}, e.g. {example}")
            return value, ""
        if not self.config.bare_numbers:
            raise _Unclear("please add a unit: centimeters or degrees")
        value = bare[0] * (0.01 if kind == "position" else math.pi / 180)
        return value, f"read {bare[0]:g} as {'centimeters' if kind == 'position' else 'degrees'}"

    def _nearest(self, text: str, axis: str, sign: int, value: float, note: str) -> Translation:
        """The motion nearest to ``value`` on ``axis``, with a note when it had to be rounded."""
        if not value > 0 or not math.isfinite(value):
            raise _Unclear("the amount must be more than zero")
        vocab = self.vocabulary
        levels = vocab.axis_levels(axis)
        delta = np.zeros(8)
        delta[MOTION_AXES.index(axis)] = sign * value
        mid = vocab.nearest(delta, min_position=0.0, min_rotation=0.0)
        if mid is None:  # pragma: no cover - the axis exists, so nearest always answers
            raise _Unclear("that amount matches no motion; please rephrase")
        chosen = abs(vocab[mid].value)
        kind = "position" if axis in POSITION_AXES else "rotation"
        unit = 100.0 if kind == "position" else 180 / math.pi
        name = "cm" if kind == "position" else "degrees"
        if not math.isclose(chosen, value, rel_tol=1e-6, abs_tol=1e-9):
            rounded = f"{value * unit:g} {name} -> {chosen * unit:g} {name} (nearest motion)"
            if value > levels[-1] * 1.5:
                rounded += f"; {levels[-1] * unit:g} {name} is the largest single motion"
            note = f"{note}; {rounded}" if note else rounded
        return Translation(text, mid, vocab.text(mid), note, self.source)


def _gripper_words(parse: Parse) -> tuple[bool, bool, list[str]]:
    """Whether the words say close / open the gripper; "drop" is "down" when an arm move is meant."""
    tokens = parse.tokens
    close = any(t in CLOSE_WORDS for t in tokens)
    open_ = any(t in OPEN_WORDS for t in tokens)
    if "drop" in tokens and ("arm" in tokens or "down" in tokens or parse.numbers or amount_ranks(tokens)):
        open_ = any(t in OPEN_WORDS - {"drop"} for t in tokens)
        tokens = ["down" if t == "drop" else t for t in tokens]
    return close, open_, tokens


def _rotation(tokens: list[str]) -> tuple[tuple[str, int] | None, set[str]]:
    """The rotation the words ask for, ``(axis, sign)`` or None, and the direction words it used up."""
    rot_verbs = [t for t in tokens if t in ROTATION_VERBS]
    if not rot_verbs:
        return None, set()
    axes = {_rotation_axis(v, tokens) for v in rot_verbs}
    axes.discard(None)
    if not axes:
        raise _Unclear(
            "rotate how? say 'roll', 'tilt', 'yaw' or 'rotate the gripper', e.g. 'rotate the gripper 15 degrees clockwise'"
        )
    if len(axes) > 1:
        raise _Unclear("one rotation at a time, please")
    axis = axes.pop()
    sign, used = _rotation_sign(axis, tokens)
    if sign is None:
        raise _Unclear(f"which way should the {_axis_name(axis)} go: clockwise or counterclockwise?")
    if sign == 0:
        raise _Unclear("that names both directions; please give one")
    return (axis, sign), used


def _rotation_axis(verb: str, tokens: list[str]) -> str | None:
    axis = ROTATION_VERBS[verb]
    if axis is not None:
        return axis
    if any(t in GRIPPER_NOUNS for t in tokens):
        return "gripper_rotation"
    if any(t in ARM_NOUNS for t in tokens):
        return "yaw"
    return None


def _position_moves(tokens: list[str], used: set[str]) -> set[tuple[str, int]]:
    """The ``(axis, sign)`` moves the words name, leaving out words a rotation used."""
    joined = " " + " ".join(tokens) + " "
    used = set(used)
    moves: set[tuple[str, int]] = set()
    for phrase, move in POSITION_PHRASES.items():
        if f" {phrase} " in joined:
            moves.add(move)
            used.update(phrase.split())
    for t in tokens:
        if t in POSITION_WORDS and t not in used:
            if t == "away" and any(p.startswith("away") for p in POSITION_PHRASES if f" {p} " in joined):
                continue
            moves.add(POSITION_WORDS[t])
    return moves


def _one_intent(gripper: bool, rotation: tuple[str, int] | None, moves: set[tuple[str, int]]) -> None:
    """Refuse no intent, or more than one (gripper, rotation, moves on several axes)."""
    intents = int(gripper) + int(rotation is not None) + int(bool(moves))
    if intents == 0:
        raise _Unclear("which way should the arm move? e.g. 'move left a bit', 'raise the arm 5 cm' or 'close the gripper'")
    if intents > 1 or len(moves) > 1:
        raise _Unclear("one motion at a time, please (e.g. first 'move left a bit', then 'lower the arm a lot')")


def _level_for_rank(rank: int, n_levels: int) -> int:
    """The magnitude level whose amount rank is closest to ``rank`` (smaller on ties)."""
    return min(range(n_levels), key=lambda lv: (abs(amount_rank(lv, n_levels) - rank), lv))


def _rotation_sign(axis: str, tokens: list[str]) -> tuple[int | None, set[str]]:
    """Direction of a rotation: +1, -1, None (not said) or 0 (both said); and the words used."""
    signs: set[int] = set()
    used: set[str] = set()
    for t in tokens:
        if t in ROTATION_DIRECTIONS:
            signs.add(ROTATION_DIRECTIONS[t])
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
