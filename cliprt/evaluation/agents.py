"""Agents the benchmark runner can build by name, and the protocol they follow.

An agent spec is ``kind`` or ``kind=checkpoint`` with an optional ``label:``
prefix, e.g. ``random``, ``expert``, ``clip-rt=runs/demo/clip-rt``,
``passive:clip-rt=runs/demo/clip-rt-passive``. Kinds map to factories by
import string, so heavy agents load only when asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cliprt_envs.motions import Vocabulary


@runtime_checkable
class Agent(Protocol):
    """The policy side of an episode.

    ``act`` takes a *batched* observation (dict of stacked arrays and a tuple of
    instructions, as vector envs return them) and returns one motion id per
    env. ``reset`` is called with an env's instruction when its episode starts;
    an agent whose ``reset`` takes ``env_index`` is told which env restarts
    (the others are mid-episode). The benchmark runner passes each env's
    instruction as the env's reset reported it, in ``reset`` and in every
    ``act``.
    """

    def reset(self, instruction: str) -> None: ...

    def act(self, observation: dict[str, Any]) -> np.ndarray: ...


@dataclass(frozen=True)
class AgentSpec:
    label: str
    kind: str
    checkpoint: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> AgentSpec:
        label, _, rest = text.rpartition(":") if ":" in text.split("=")[0] else ("", "", text)
        kind, _, checkpoint = rest.partition("=")
        kind = kind.strip()
        if not kind:
            raise ValueError(f"empty agent spec {text!r}; use e.g. 'random' or 'clip-rt=PATH'")
        return cls(label or kind, kind, checkpoint or None)


class RandomAgent:
    """Uniform over the vocabulary: the floor every method must clear."""

    def __init__(self, vocabulary: Vocabulary, seed: int = 0) -> None:
        self.n = len(vocabulary)
        self.rng = np.random.default_rng(seed)

    def reset(self, instruction: str) -> None:
        """Stateless."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        return self.rng.integers(self.n, size=len(observation["instruction"]))


class ExpertAgent:
    """The task's scripted expert: an upper bound that reads the simulator.

    It runs inside the env workers (``needs_env``); the runner asks the vector
    env for ``expert_action`` instead of calling ``act``.
    """

    needs_env = True

    def reset(self, instruction: str) -> None:
        """Stateless: the expert reads the scene each step."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:  # pragma: no cover - never called
        raise TypeError("the expert acts inside the env; the runner calls env.expert_action()")


def _random(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> Agent:
    return RandomAgent(vocabulary, seed)


def _expert(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> Agent:
    return ExpertAgent()


def _ppo(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> Agent:
    from cliprt_agents.baselines.ppo import PPOAgent

    return PPOAgent(_checkpoint(spec))


def _bc(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> Agent:
    from cliprt_agents.baselines.bc import BCAgent

    return BCAgent(_checkpoint(spec), vocabulary=vocabulary)


def _clip_rt(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> Agent:
    from cliprt_agents.policy import load_policy

    return load_policy(_checkpoint(spec), vocabulary=vocabulary)


def _checkpoint(spec: AgentSpec) -> str:
    if not spec.checkpoint:
        raise ValueError(f"agent kind {spec.kind!r} needs a checkpoint: '{spec.kind}=PATH'")
    return spec.checkpoint


#: kind -> "module:function(spec, vocabulary, seed) -> Agent"
AGENT_KINDS: dict[str, str] = {
    "random": "cliprt.evaluation.agents:_random",
    "expert": "cliprt.evaluation.agents:_expert",
    "ppo": "cliprt.evaluation.agents:_ppo",
    "bc": "cliprt.evaluation.agents:_bc",
    "clip-rt": "cliprt.evaluation.agents:_clip_rt",
}


def make_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int = 0) -> Agent:
    try:
        target = AGENT_KINDS[spec.kind]
    except KeyError:
        known = ", ".join(sorted(AGENT_KINDS))
        raise ValueError(f"unknown agent kind {spec.kind!r}; known kinds: {known}") from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(spec, vocabulary, seed)
