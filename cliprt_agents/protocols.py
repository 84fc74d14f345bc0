"""The one Agent protocol every policy follows (no torch needed to use it).

An observation is the env's dict: ``image`` uint8 ``(H, W, 3)``,
``instruction`` str, ``proprio`` float32 ``(8,)``; from a vector env the same
keys hold batches (``(B, H, W, 3)`` images, a sequence of B instructions).
Agents answer in kind: one action for one observation, an array of B
actions for a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cliprt_envs.motions import Vocabulary


@runtime_checkable
class Agent(Protocol):
    """A policy over an env's action space: what the benchmark runner and every tool call.

    ``continuous`` is False for agents that pick motion ids and True for
    agents that emit 8-D deltas (they need ``LanguageMotionEnv(continuous=True)``).

    ``needs_env`` is True for agents that act from inside the env (a task's
    scripted expert reads the simulator): the runner then asks the vector env
    for ``expert_action`` and never calls ``act``. Every other agent says False.

    ``reset`` starts new episode(s). A vector-env runner passes ``env_index``,
    the env that restarts (the others are mid-episode), with that env's
    instruction as its reset reported it; ``env_index=None`` resets every env.
    """

    continuous: bool
    needs_env: bool

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Start new episode(s); per-episode caches and pending corrections are cleared."""
        ...

    def act(self, observation: dict[str, Any]) -> Any:
        """The next action (a motion id, or an 8-D delta); an array of them for a batch."""
        ...


@runtime_checkable
class ScoringAgent(Agent, Protocol):
    """An agent that can say how appropriate each motion is (for ensembling with a language model or a person).

    One may also keep ``last_scores``, the ``(B, N)`` scores behind its last ``act``, so that a caller
    wanting both (the benchmark's ``--trace``) does not run its model twice.
    """

    def scores(self, observation: dict[str, Any]) -> np.ndarray:
        """Per-motion scores ``(N,)`` (or ``(B, N)``), higher = more appropriate."""
        ...


@runtime_checkable
class MotionScorer(Protocol):
    """An outside opinion (a VLM, a rule, a person) on each motion, as multiplicative factors.

    Returns factors ``(N,)`` or ``(B, N)``, >= 0: above 1 boosts a motion,
    below 1 penalises it; the policy multiplies its scores by them before
    choosing (collaboration, as in the CLIP-RT paper).
    """

    def __call__(self, observation: dict[str, Any], vocabulary: Vocabulary, scores: np.ndarray) -> Any: ...


def appropriateness_factors(
    vocabulary: Vocabulary,
    appropriate: Sequence[int | str] = (),
    inappropriate: Sequence[int | str] = (),
    *,
    boost: float = 2.0,
    penalty: float = 0.1,
) -> np.ndarray:
    """Factors for a large model's verdicts: ``boost`` for appropriate motions, ``penalty`` for inappropriate.

    The paper does not publish its rule; with scores in [0, 1] a boost of 2
    lifts a plausible second choice over a wrong first one, and 0.1 all but
    vetoes a motion without making the product exactly zero.
    """
    factors = np.ones(len(vocabulary), dtype=np.float64)
    for key in appropriate:
        factors[vocabulary.id_of(key) if isinstance(key, str) else vocabulary[key].id] = boost
    for key in inappropriate:
        factors[vocabulary.id_of(key) if isinstance(key, str) else vocabulary[key].id] = penalty
    return factors
