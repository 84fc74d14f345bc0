"""How often an augmented dataset's labels agree with the scripted expert, asked at the very state of each step.

Each labelled step of every augmented episode is restored from its recorded
simulator state (``sim_state`` row ``t``, the state *at* observation ``t``,
where action ``t`` was taken) and the task's scripted expert is asked for its
motion there. With heuristic STA labels this measures how often the paper's
labels (re-sampled route, reversal of the deviation, fine move) are what the
expert would do; with expert labels it is 1.0 by construction, so it checks
that state restoration reproduces the state the label was taken in.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.augment.dataset import _env_kwargs
from cliprt_data.augment.execute import check_labelling
from cliprt_data.augment.plan import STAConfig
from cliprt_data.storage import DatasetReader, Episode, check_dataset

_EXPERT = STAConfig(labels="expert")


def expert_agreement(path: str | Path, *, max_episodes: int | None = None) -> dict[str, Any]:
    """Agreement of the labelled steps of ``path``'s augmented episodes with the expert at their states.

    Returns ``{"dataset", "labels", "episodes", "steps", "agreed", "agreement", "per_kind"}``;
    ``per_kind`` splits the count by step kind (diversify, recover, demo).
    """
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)

    info = check_dataset(path)
    wrapped = gym.make(info.env_id, **_env_kwargs(info, info.vocabulary))
    agreed: Counter = Counter()
    total: Counter = Counter()
    episodes = 0
    try:
        env = wrapped.unwrapped
        check_labelling(env, _EXPERT)
        with DatasetReader(info.path) as reader:
            for index, entry in enumerate(info.episodes):
                if entry.get("source") != "augment" or (max_episodes is not None and episodes >= max_episodes):
                    continue
                _count_episode(env, reader.episode(index, images=False), agreed, total)
                episodes += 1
    finally:
        wrapped.close()
    steps, hits = sum(total.values()), sum(agreed.values())
    return {
        "dataset": str(info.path),
        "labels": (info.metadata.get("sta") or {}).get("labels", "heuristic"),
        "episodes": episodes,
        "steps": steps,
        "agreed": hits,
        "agreement": hits / steps if steps else None,
        "per_kind": {k: {"steps": total[k], "agreed": agreed[k], "agreement": agreed[k] / total[k]} for k in sorted(total)},
    }


def expert_labels_at_states(env: Any, episode: Episode) -> np.ndarray:
    """The expert's motion id at the state of each step of ``episode`` (``env`` unwrapped, same task)."""
    from cliprt_envs.language_env import EnvState

    states = episode.sim_states
    if states is None:
        raise ValueError(f"episode {episode.index} has no simulator states to restore")
    out = np.empty(episode.n_steps, dtype=np.int64)
    for t in range(episode.n_steps):
        env.restore_state(EnvState.from_flat(states[t], episode.instruction))
        out[t] = int(env.expert_action())
    return out


def _count_episode(env: Any, episode: Episode, agreed: Counter, total: Counter) -> None:
    expert = expert_labels_at_states(env, episode)
    for kind, label, lab, want in zip(episode.step_kinds, episode.motion_ids, episode.labelled, expert):
        if lab:
            total[kind] += 1
            agreed[kind] += int(label == want)
