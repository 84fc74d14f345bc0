"""Agents without a model: the floor (uniform random) and the ceiling (the task's scripted expert)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cliprt_envs.motions import Vocabulary

if TYPE_CHECKING:
    from cliprt_agents.registry import AgentSpec


class RandomAgent:
    """Uniform over the vocabulary: the floor every method must clear."""

    continuous = False
    needs_env = False

    def __init__(self, vocabulary: Vocabulary, seed: int = 0) -> None:
        self.n = len(vocabulary)
        self.rng = np.random.default_rng(seed)

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Stateless."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        return self.rng.integers(self.n, size=len(observation["instruction"]))


class ExpertAgent:
    """The task's scripted expert: an upper bound that reads the simulator.

    It runs inside the env workers (``needs_env``); the runner asks the vector
    env for ``expert_action`` instead of calling ``act``.
    """

    continuous = False
    needs_env = True

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Stateless: the expert reads the scene each step."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:  # pragma: no cover - never called
        raise TypeError("the expert acts inside the env; the runner calls env.expert_action()")


def random_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> RandomAgent:
    """Registry factory (``random``)."""
    return RandomAgent(vocabulary, seed)


def expert_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> ExpertAgent:
    """Registry factory (``expert``)."""
    return ExpertAgent()
