"""The scripted user: speaks the scripted expert's motions as varied paraphrases, and counts the translator's misses.

``cliprt collect`` gathers demonstrations through exactly the path a person
uses (expert motion -> phrase -> translator -> motion).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cliprt_data.translate import Translation
from cliprt_envs.motions import (
    AMOUNT_WORDS,
    Vocabulary,
    amount_rank,
    random_paraphrase,
)

_POLITE = ("{}", "{}", "please {}", "{} please", "now {}", "could you {}", "ok, {}", "{} now")
_NUMBER_WORDS = {"1": "one", "5": "five", "10": "ten", "15": "fifteen", "20": "twenty", "45": "forty five", "90": "ninety"}
_COMPARATIVES = {
    ("z", 1): "higher",
    ("z", -1): "lower",
    ("y", 1): "more to the left",
    ("y", -1): "more to the right",
    ("x", 1): "further forward",
    ("x", -1): "further back",
}


def natural_phrase(vocabulary: Vocabulary, motion_id: int, rng: np.random.Generator) -> str:
    """How a person might say motion ``motion_id``: a paraphrase, sometimes reworded.

    Starts from :func:`cliprt_envs.motions.random_paraphrase` (the project's
    paraphrase list) and, at random, spells numbers as words ("five
    centimeters"), turns it into a comparative ("a bit lower") or adds a
    polite frame ("could you ..."), so the translator sees more than the list.
    """
    motion = vocabulary[motion_id]
    text = random_paraphrase(vocabulary, motion_id, rng)
    key = (motion.axis, motion.sign)
    if not motion.is_gripper and key in _COMPARATIVES and rng.random() < 0.25:
        words = AMOUNT_WORDS[amount_rank(motion.level, len(vocabulary.axis_levels(motion.axis)))]
        text = f"{words[int(rng.integers(len(words)))]} {_COMPARATIVES[key]}"
    elif rng.random() < 0.3:
        text = re.sub(r"\b(\d+)\b", lambda m: _NUMBER_WORDS.get(m.group(1), m.group(1)), text)
    return _POLITE[int(rng.integers(len(_POLITE)))].format(text)


@dataclass
class ScriptedUserStats:
    """How the translator fared on the scripted user's phrases."""

    phrases: int = 0
    matched: int = 0
    mismatched: int = 0
    unclear: int = 0
    fallbacks: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def match_rate(self) -> float:
        return self.matched / self.phrases if self.phrases else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "match_rate": self.match_rate}


class ScriptedUser:
    """Speaks the scripted expert's next motion as a random paraphrase.

    When the translation is unclear or is not the expert's motion (counted),
    it rephrases; after ``max_rephrasings`` it says the motion's own text,
    which every translator must understand, so demonstrations stay expert
    demonstrations while the statistics measure the translator.
    """

    def __init__(
        self, env: Any, vocabulary: Vocabulary, rng: np.random.Generator, *, max_rephrasings: int = 3, keep_examples: int = 50
    ) -> None:
        self.env = env
        self.vocabulary = vocabulary
        self.rng = rng
        self.max_rephrasings = max_rephrasings
        self.keep_examples = keep_examples
        self.stats = ScriptedUserStats()
        self._expected: int | None = None
        self._attempts = 0
        self._last = ""

    def ask_instruction(self, default: str) -> str:
        return default

    def ask_supervision(self, observation: dict[str, Any], step: int) -> str:
        from cliprt_envs.language_env import expert_action

        if self._expected is None:
            self._expected = int(expert_action(self.env))
            self._attempts = 0
        self._attempts += 1
        if self._attempts > self.max_rephrasings + 1:
            raise RuntimeError(
                f"the translator did not understand the motion's own text {self.vocabulary.text(self._expected)!r}; "
                "check the translator (for --translator llm: the endpoint and model)"
            )
        if self._attempts > self.max_rephrasings:
            self.stats.fallbacks += 1
            self._last = self.vocabulary.text(self._expected)
        else:
            self._last = natural_phrase(self.vocabulary, self._expected, self.rng)
        self.stats.phrases += 1
        return self._last

    def review(self, translation: Translation) -> bool:
        expected = self._expected
        if not translation.ok:
            self.stats.unclear += 1
            self._note(translation, "unclear")
            return False
        if translation.motion_id != expected:
            self.stats.mismatched += 1
            self._note(translation, "mismatch")
            return False
        self.stats.matched += 1
        self._expected = None
        return True

    def tell(self, message: str) -> None:
        """A script does not read messages."""

    def _note(self, translation: Translation, kind: str) -> None:
        if len(self.stats.examples) < self.keep_examples and self._expected is not None:
            self.stats.examples.append(
                {
                    "kind": kind,
                    "phrase": translation.text,
                    "expected": self.vocabulary.text(self._expected),
                    "got": translation.motion_text,
                    "message": translation.message,
                }
            )
