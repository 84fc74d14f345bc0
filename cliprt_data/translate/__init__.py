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

Modules: :mod:`~cliprt_data.translate.base` (the interface),
:mod:`~cliprt_data.translate.lexicon` (the offline words and number reading),
:mod:`~cliprt_data.translate.rules` and :mod:`~cliprt_data.translate.llm`.
This package's :class:`Translator` is the project's one translator protocol.
"""

from __future__ import annotations

from cliprt_data.translate.base import Translation, Translator, validated
from cliprt_data.translate.llm import ENV_KEY, ENV_MODEL, ENV_URL, LLMConfig, LLMTranslator
from cliprt_data.translate.rules import RuleTranslator, RuleTranslatorConfig
from cliprt_envs.motions import Vocabulary

__all__ = [
    "ENV_KEY",
    "ENV_MODEL",
    "ENV_URL",
    "LLMConfig",
    "LLMTranslator",
    "RuleTranslator",
    "RuleTranslatorConfig",
    "Translation",
    "Translator",
    "make_translator",
    "validated",
]


def make_translator(kind: str, vocabulary: Vocabulary, **options: object) -> Translator:
    """``"offline"`` (rules) or ``"llm"`` (settings from the environment)."""
    if kind in ("offline", "rules"):
        return RuleTranslator(vocabulary, RuleTranslatorConfig(**options))  # type: ignore[arg-type]
    if kind == "llm":
        return LLMTranslator(vocabulary, LLMConfig.from_env(**options))
    raise ValueError(f"unknown translator {kind!r}; use 'offline' or 'llm'")
