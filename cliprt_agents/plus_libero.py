"""CLIP-RT+ on LIBERO: chunks of continuous actions, executed open loop, sent as LIBERO's native 7-D commands.

Two kinds of model drive a ``CLIPRT-LIBERO-*`` env made with ``continuous=True``:

* our CLIP-RT+ checkpoints trained on converted LIBERO data
  (:mod:`cliprt_data.libero.convert`): they predict 8-D deltas in metres and
  radians with an absolute gripper command; :class:`LiberoChunkAgent` turns
  each into LIBERO's command with :func:`~cliprt_data.libero.convert.libero_action`;
* the CLIP-RT authors' LIBERO checkpoints (:mod:`cliprt_agents.libero_hub`),
  which predict LIBERO's command directly.

Either way one model call gives a chunk of K actions (8 in the paper) that
run one per control step before the next call. The agent keeps count
(:attr:`LiberoChunkAgent.stats`): chunks predicted, seconds spent predicting
them, actions returned; so throughput (actions/s) and latency per chunk are
the paper's Table I numbers.

Agent spec: ``clip-rt-libero=CHECKPOINT`` (a run folder of ours, or
``hf-hub:clip-rt/clip-rt-finetuned-libero-<suite>`` / a folder with the
authors' files).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cliprt_agents.registry import AgentSpec
from cliprt_envs.motions import Vocabulary


@dataclass
class ChunkStats:
    """What the agent measured: chunks predicted, their total seconds, actions handed out."""

    chunks: int = 0
    seconds: float = 0.0
    actions: int = 0

    @property
    def latency_per_chunk_s(self) -> float:
        return self.seconds / self.chunks if self.chunks else float("nan")

    @property
    def actions_per_second(self) -> float:
        """Model throughput: actions produced per second of model time (the paper's Hz)."""
        return self.actions / self.seconds if self.seconds else float("nan")


class LiberoChunkAgent:
    """Runs ``predict(observation) -> (B, K, 7)`` native chunks and hands out one action per step and env.

    ``execute_steps`` actions of each chunk run before the next prediction
    (default: all of them, as the paper and the authors' evaluation do).
    """

    continuous = True
    needs_env = False

    def __init__(
        self, predict: Callable[[dict[str, Any]], np.ndarray], chunk_size: int, execute_steps: int | None = None
    ) -> None:
        self.predict = predict
        self.chunk_size = int(chunk_size)
        self.execute_steps = self.chunk_size if execute_steps is None else int(execute_steps)
        if not 1 <= self.execute_steps <= self.chunk_size:
            raise ValueError(f"execute_steps must be 1..{self.chunk_size}, got {execute_steps}")
        self.stats = ChunkStats()
        self.episode_chunks: dict[int, int] = {}  # per env: chunks predicted this episode (the benchmark records it)
        self._queues: dict[int, list[np.ndarray]] = {}

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        if env_index is None:
            self._queues.clear()
            self.episode_chunks.clear()
        else:
            self._queues.pop(env_index, None)
            self.episode_chunks[env_index] = 0

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """The next 7-D LIBERO action (``(7,)``, or ``(B, 7)`` for a batch)."""
        images = np.asarray(observation["image"])
        single = images.ndim == 3
        batch_images = images[None] if single else images
        instructions = observation["instruction"]
        instructions = [instructions] * len(batch_images) if isinstance(instructions, str) else list(instructions)
        need = [i for i in range(len(batch_images)) if not self._queues.get(i)]
        if need:
            t0 = time.perf_counter()
            chunks = np.asarray(self.predict({"image": batch_images[need], "instruction": [instructions[i] for i in need]}))
            self.stats.seconds += time.perf_counter() - t0
            self.stats.chunks += len(need)
            for j, i in enumerate(need):
                self.episode_chunks[i] = self.episode_chunks.get(i, 0) + 1
                self._queues[i] = [np.asarray(a, dtype=np.float32) for a in chunks[j][: self.execute_steps]]
        actions = np.stack([self._queues[i].pop(0) for i in range(len(batch_images))])
        self.stats.actions += len(actions)
        return actions[0] if single else actions


def plus_chunk_predictor(policy: Any) -> Callable[[dict[str, Any]], np.ndarray]:
    """Native LIBERO chunks from our CLIP-RT+ policy (8-D metres/radians, absolute gripper)."""
    from cliprt_data.libero.convert import libero_action

    def predict(observation: dict[str, Any]) -> np.ndarray:
        chunk = np.asarray(policy.predict_chunk(observation))  # (B, K, 8), gripper snapped to -1/0/+1
        chunk = chunk.copy()
        g = chunk[..., 7]
        chunk[..., 7] = np.where(g == 0, 1.0, g)  # 0 ("keep") only where the model is unsure: keep it open
        return libero_action(chunk)

    return predict


def load_libero_agent(checkpoint: str, *, device: str = "cpu", execute_steps: int | None = None) -> LiberoChunkAgent:
    """The agent for ``checkpoint``: the authors' LIBERO files, or a CLIP-RT+ run folder of ours.

    ``device``: cpu, cuda, cuda:N or auto (the GPU when there is one).
    """
    from cliprt_agents import libero_hub

    if libero_hub.is_authors_libero_checkpoint(checkpoint):
        model = libero_hub.load_libero_hub_model(checkpoint, device=device)
        return LiberoChunkAgent(libero_hub.chunk_predictor(model, device=device), model.chunk_size, execute_steps)
    from cliprt_agents.policy import CLIPRTPlusPolicy, load_policy

    policy = load_policy(checkpoint, device=device)
    if not isinstance(policy, CLIPRTPlusPolicy):
        raise ValueError(f"{checkpoint} is not a CLIP-RT+ checkpoint (variant 'plus'); LIBERO's continuous env needs one")
    return LiberoChunkAgent(plus_chunk_predictor(policy), policy.model.config.chunk_size, execute_steps)


def clip_rt_libero_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> LiberoChunkAgent:
    """Registry factory (``clip-rt-libero=CHECKPOINT``): on the GPU when there is one, else the CPU."""
    return load_libero_agent(spec.require_checkpoint(), device="auto")
