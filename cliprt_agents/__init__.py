"""cliprt_agents: CLIP-RT, CLIP-RT-Action, CLIP-RT+, baselines (``cliprt_agents.baselines``) and training.

Importing the package is cheap (no torch, no open_clip): the names below load
their module on first access.

    from cliprt_agents import ModelConfig, TrainConfig, train, load_policy
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ModelConfig": "cliprt_agents.config",
    "TrainConfig": "cliprt_agents.config",
    "PROMPT_TEMPLATE": "cliprt_agents.config",
    "TINY_MODEL": "cliprt_agents.config",
    "TINY_CONV_MODEL": "cliprt_agents.config",
    "format_prompt": "cliprt_agents.config",
    "Agent": "cliprt_agents.protocols",
    "MotionScorer": "cliprt_agents.protocols",
    "ScoringAgent": "cliprt_agents.protocols",
    "appropriateness_factors": "cliprt_agents.protocols",
    "AgentSpec": "cliprt_agents.registry",
    "AGENT_KINDS": "cliprt_agents.registry",
    "make_agent": "cliprt_agents.registry",
    "RandomAgent": "cliprt_agents.scripted",
    "ExpertAgent": "cliprt_agents.scripted",
    "CheckpointError": "cliprt_agents.errors",
    "VocabularyMismatchError": "cliprt_agents.errors",
    "PretrainedWeightsUnavailableError": "cliprt_agents.errors",
    "DeviceUnavailableError": "cliprt_agents.errors",
    "WeightsFileError": "cliprt_agents.errors",
    "resolve_device": "cliprt_agents.devices",
    "CLIPRT": "cliprt_agents.model",
    "build_model": "cliprt_agents.model",
    "cil_loss": "cliprt_agents.losses",
    "Trainer": "cliprt_agents.train",
    "TrainResult": "cliprt_agents.train_state",
    "train": "cliprt_agents.train",
    "save_model": "cliprt_agents.checkpoint",
    "load_model": "cliprt_agents.checkpoint",
    "CLIPRTPolicy": "cliprt_agents.policy",
    "CLIPRTPlusPolicy": "cliprt_agents.policy",
    "load_policy": "cliprt_agents.policy",
    "MotionBatchCollator": "cliprt_agents.data",
    "InMemoryMotionDataset": "cliprt_agents.data",
    "SyntheticMotionDataset": "cliprt_agents.synthetic",
    "collect_sim_dataset": "cliprt_agents.sim_data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cliprt_agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
