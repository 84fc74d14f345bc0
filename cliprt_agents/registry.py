"""Agents by name: the one registry the benchmark runner, the main job and the CLI build agents from.

An agent spec is ``kind`` or ``kind=checkpoint`` with an optional ``label:``
prefix and optional ``?key=value&key=value`` options for the factory, e.g.
``random``, ``expert``, ``clip-rt=runs/demo/clip-rt``,
``passive:clip-rt=runs/demo/clip-rt-passive``,
``clip-rt=cliprt-ur5sim-v6?selection=sample&temperature=0.3``. Kinds map to
factories by import string, so heavy agents load only when asked for.

Adding a baseline: one file with the agent (it follows
:class:`~cliprt_agents.protocols.Agent`) and a factory
``(spec, vocabulary, seed) -> agent``, and one line in :data:`AGENT_KINDS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cliprt_agents.selection import SELECTION_OPTIONS

if TYPE_CHECKING:
    from cliprt_agents.protocols import Agent
    from cliprt_envs.motions import Vocabulary


@dataclass(frozen=True)
class AgentSpec:
    label: str
    kind: str
    checkpoint: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> AgentSpec:
        text, _, query = text.partition("?")
        head, _, checkpoint = text.partition("=")  # a checkpoint may hold ':' (hf-hub:org/repo)
        label, _, kind = head.rpartition(":")
        kind = kind.strip()
        if not kind:
            raise ValueError(f"empty agent spec {text!r}; use e.g. 'random' or 'clip-rt=PATH'")
        options: dict[str, Any] = {}
        for item in filter(None, query.split("&")):
            key, eq, value = item.partition("=")
            if not key.strip() or not eq:
                raise ValueError(f"agent option {item!r} in {text + '?' + query!r} is not key=value")
            options[key.strip()] = value.strip()
        return cls(label or kind, kind, checkpoint or None, options)

    def require_checkpoint(self) -> str:
        """The checkpoint, for kinds that load one; a clear error when the spec has none."""
        if not self.checkpoint:
            raise ValueError(f"agent kind {self.kind!r} needs a checkpoint: '{self.kind}=PATH'")
        return self.checkpoint


#: kind -> "module:function(spec, vocabulary, seed) -> Agent"
AGENT_KINDS: dict[str, str] = {
    "random": "cliprt_agents.scripted:random_agent",
    "expert": "cliprt_agents.scripted:expert_agent",
    "ppo": "cliprt_agents.baselines.ppo:ppo_agent",
    "bc": "cliprt_agents.baselines.bc:bc_agent",
    "clip-rt": "cliprt_agents.policy:clip_rt_agent",
    "clip-rt-libero": "cliprt_agents.plus_libero:clip_rt_libero_agent",
}


#: kind -> the ``?key=value`` options its factory reads (kinds not listed take none)
AGENT_OPTIONS: dict[str, tuple[str, ...]] = {
    "clip-rt": (*SELECTION_OPTIONS, "revisits", "mirror"),
    "bc": (*SELECTION_OPTIONS, "revisits"),
    "ppo": SELECTION_OPTIONS[:1],  # PPO draws from its own policy: no temperature
}


def make_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int = 0) -> Agent:
    """Build the agent ``spec`` names (its factory's module is imported now, not before)."""
    try:
        target = AGENT_KINDS[spec.kind]
    except KeyError:
        known = ", ".join(sorted(AGENT_KINDS))
        raise ValueError(f"unknown agent kind {spec.kind!r}; known kinds: {known}") from None
    unknown = sorted(set(spec.options) - set(AGENT_OPTIONS.get(spec.kind, ())))
    if unknown:
        takes = list(AGENT_OPTIONS.get(spec.kind, ())) or "no options"
        raise ValueError(f"agent {spec.label!r} ({spec.kind}) takes {takes}, not {unknown}")
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(spec, vocabulary, seed)
