"""cliprt_envs: robots behind one language-motion action space.

Importing this package registers the Gymnasium ids and needs only gymnasium
and numpy; MuJoCo, torch and hardware libraries load when an env is made.
"""

from __future__ import annotations

from collections.abc import Iterable

import gymnasium as gym

from cliprt_envs.motions import Motion, UnknownMotionError, Vocabulary, default_vocabulary
from cliprt_envs.registry import ENV_ENTRIES, EnvEntry

__version__ = "0.1.0"

__all__ = [
    "Motion",
    "UnknownMotionError",
    "Vocabulary",
    "__version__",
    "default_vocabulary",
    "registered_ids",
]


def _register(entries: Iterable[EnvEntry] = ENV_ENTRIES) -> None:
    """Hand ``entries`` (by default every entry of :mod:`cliprt_envs.registry`) to Gymnasium, once each."""
    for entry in entries:
        if entry.env_id not in gym.registry:
            gym.register(
                id=entry.env_id,
                entry_point=entry.entry_point,
                max_episode_steps=entry.max_steps,
                kwargs=dict(entry.kwargs),
            )


def registered_ids() -> list[str]:
    """Every Gymnasium id this package provides."""
    return [e.env_id for e in ENV_ENTRIES]


_register()
