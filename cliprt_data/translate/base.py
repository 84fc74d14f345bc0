"""The translator interface: :class:`Translation`, the :class:`Translator` protocol, :func:`validated`.

``validated`` is the last gate before a robot moves: every translator's answer goes through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from cliprt_envs.motions import (
    Vocabulary,
    normalize_text,
)


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
