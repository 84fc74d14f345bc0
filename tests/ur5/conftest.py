"""A fresh MuJoCo twin per test, and the env made against its doubles (the real driver code runs)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)

pytest.importorskip("mujoco", reason="the twin needs the sim extra")


@pytest.fixture
def twin():
    from cliprt_envs.ur5.twin import UR5Twin

    with UR5Twin() as t:
        yield t


@pytest.fixture
def make_env(twin):
    """``make_env(**options)``: gym.make("CLIPRT-UR5-v0") on the twin; every env made is closed after the test."""
    made = []

    def make(config=None, **kwargs):
        env = gym.make(
            "CLIPRT-UR5-v0", config=config or twin.config(), drivers=twin.drivers(), realsense=twin.realsense(), **kwargs
        )
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


def calls(twin, name: str) -> list[tuple]:
    """The arguments of every call of a driver method (e.g. ``"RTDEControlInterface.moveL"``)."""
    return [args for call, args in twin.calls if call == name]
