"""The one agent registry and the one Agent protocol: every kind builds an agent that follows it."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from cliprt_agents.protocols import Agent
from cliprt_agents.registry import AGENT_KINDS, AgentSpec, make_agent
from cliprt_agents.scripted import ExpertAgent, RandomAgent
from cliprt_envs.motions import default_vocabulary


def test_every_kind_names_an_importable_factory():
    for kind, target in AGENT_KINDS.items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), kind


def test_scripted_agents_follow_the_protocol_and_say_where_they_act():
    random_agent = make_agent(AgentSpec.parse("random"), default_vocabulary(), seed=3)
    expert = make_agent(AgentSpec.parse("expert"), default_vocabulary())
    assert isinstance(random_agent, RandomAgent) and isinstance(expert, ExpertAgent)
    for agent in (random_agent, expert):
        assert isinstance(agent, Agent) and agent.continuous is False
        agent.reset("pick up the cube", env_index=1)
        agent.reset(None)
    assert random_agent.needs_env is False and expert.needs_env is True


@pytest.mark.parametrize("module", ["cliprt_agents.baselines.bc", "cliprt_agents.baselines.ppo", "cliprt_agents.policy"])
def test_learned_agents_declare_what_the_runner_needs(module):
    names = {"cliprt_agents.baselines.bc": "BCAgent", "cliprt_agents.baselines.ppo": "PPOAgent"}
    if module == "cliprt_agents.baselines.ppo":
        pytest.importorskip("stable_baselines3")
    cls = getattr(importlib.import_module(module), names.get(module, "CLIPRTPolicy"))
    assert cls.needs_env is False and cls.continuous is False
    assert callable(cls.reset) and callable(cls.act) and callable(cls.scores)  # a ScoringAgent


@pytest.mark.parametrize("kind", ["bc", "ppo", "clip-rt"])
def test_kinds_with_weights_need_a_checkpoint(kind):
    if kind == "ppo":
        pytest.importorskip("stable_baselines3")
    with pytest.raises(ValueError, match=f"agent kind '{kind}' needs a checkpoint"):
        make_agent(AgentSpec.parse(kind), default_vocabulary())


class _ToyAgent(RandomAgent):
    """A new baseline: one class and one factory; registered by one line in AGENT_KINDS."""


def _toy(spec, vocabulary, seed):
    return _ToyAgent(vocabulary, seed)


def test_a_new_agent_is_one_factory_and_one_registration_line(monkeypatch):
    monkeypatch.setitem(AGENT_KINDS, "toy", f"{__name__}:_toy")
    agent = make_agent(AgentSpec.parse("mine:toy"), default_vocabulary(), seed=0)
    assert isinstance(agent, _ToyAgent) and isinstance(agent, Agent)
    acts = agent.act({"instruction": ("a", "b")})
    assert acts.shape == (2,) and np.all((acts >= 0) & (acts < len(default_vocabulary())))


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(ValueError, match="known kinds: bc, clip-rt, clip-rt-libero, expert, ppo, random"):
        make_agent(AgentSpec.parse("alphago"), default_vocabulary())
