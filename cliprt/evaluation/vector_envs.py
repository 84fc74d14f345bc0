"""The benchmark's vector envs: each env id's scheduled envs side by side, in this process or one each.

Autoreset is off: the runner decides when each env starts its next job
(:mod:`cliprt.evaluation.runner`).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import gymnasium as gym

from cliprt.evaluation.scheduled_env import _make_env
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.simulated_person import probed_env
from cliprt_envs.parallel import main_module_hidden, prepare_context


def continuous_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """``env_id``'s registration with ``continuous=True`` (for agents that emit continuous actions)."""
    spec = gym.spec(env_id)
    return replace(spec, kwargs={**spec.kwargs, "continuous": True})


def make_vector_env(config: BenchConfig, env_id: str, n: int, *, continuous: bool = False) -> gym.vector.VectorEnv:
    """``n`` scheduled envs of ``env_id`` with the benchmark's settings: stepped in this process (``config.vector``
    "sync", or one env), else in a process each."""
    make = partial(
        _make_env,
        continuous_spec(env_id) if continuous else env_id,
        image_size=config.image_size,
        max_steps=config.max_steps,
        camera=config.camera,
        phrasings=config.phrasings,
        scene=config.scene,
        video_size=config.video_size,
        video_camera=config.video_camera,
        videos=config.video_episodes > 0,
        trace=config.trace,
        robot_config=config.robot_config,
    )
    fns = [partial(make, i) for i in range(n)]
    if config.corrections:  # the simulated person asks each worker for the expert's motion
        fns = [partial(probed_env, fn) for fn in fns]
    if config.vector == "sync" or n == 1:
        return gym.vector.SyncVectorEnv(fns, autoreset_mode="Disabled")
    method = prepare_context(config.start_method)
    with main_module_hidden():
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode="Disabled", context=method)


class VectorEnvs:
    """The vector envs of one env id, one per action kind (motions, or continuous actions) and size.

    Asking for another env id closes the ones held.
    """

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.env_id: str | None = None
        self._made: dict[tuple[bool, int], gym.vector.VectorEnv] = {}

    def get(self, env_id: str, n: int, continuous: bool) -> gym.vector.VectorEnv:
        if env_id != self.env_id:
            self.close()
            self.env_id = env_id
        if (continuous, n) not in self._made:
            self._made[continuous, n] = make_vector_env(self.config, env_id, n, continuous=continuous)
        return self._made[continuous, n]

    def close(self) -> None:
        for made in self._made.values():
            made.close()
        self._made.clear()
