"""cliprt_envs: robots behind one language-motion action space.

Importing this package registers the Gymnasium ids and needs only gymnasium
and numpy; MuJoCo, torch and hardware libraries load when an env is made.
"""

from __future__ import annotations

import gymnasium as gym

from cliprt_envs.motions import Motion, UnknownMotionError, Vocabulary, default_vocabulary
from cliprt_envs.registry import REAL_UR5_ID, SIM_ENTRY_POINT, SIM_TASKS

__version__ = "0.1.0"

__all__ = [
    "Motion",
    "UnknownMotionError",
    "Vocabulary",
    "__version__",
    "default_vocabulary",
    "registered_ids",
]


def _register() -> None:
    for entry in SIM_TASKS:
        if entry.env_id not in gym.registry:
            gym.register(
                id=entry.env_id,
                entry_point=SIM_ENTRY_POINT,
                max_episode_steps=entry.max_steps,
                kwargs={"task": entry.name},
            )


def registered_ids() -> list[str]:
    """Every Gymnasium id this package provides."""
    ids = [e.env_id for e in SIM_TASKS]
    if REAL_UR5_ID in gym.registry:
        ids.insert(0, REAL_UR5_ID)
    return ids


_register()
