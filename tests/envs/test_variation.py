"""Per-reset visual variation of the twin: fixed cameras move by centimetres, the wrist camera by millimetres."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt_envs.sim.backend import SimConfig
from cliprt_envs.sim.variation import SceneVariation


def camera_offsets(variation: SceneVariation, seeds: range) -> dict[str, np.ndarray]:
    """Per camera, ``(len(seeds), 3)`` position offsets from the scene as built, one row per seeded reset."""
    import mujoco

    env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32, sim_config=SimConfig(variation=variation))
    try:
        model = env.unwrapped.backend.model
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
        env.reset(seed=0)
        base = env.unwrapped.backend._variator._base["cam_pos"]
        rows = []
        for seed in seeds:
            env.reset(seed=seed)
            rows.append(model.cam_pos.copy() - base)
        return {name: np.stack(rows)[:, i] for i, name in enumerate(names)}
    finally:
        env.close()


def test_the_wrist_camera_moves_only_on_its_mount_and_fixed_cameras_by_centimetres():
    v = SceneVariation()
    offsets = camera_offsets(v, range(12))
    wrist, front = np.abs(offsets["wrist"]), np.abs(offsets["front"])
    assert wrist.max() <= v.mount_shift + 1e-9 and wrist.max() > 0
    assert front.max() <= v.camera_shift + 1e-9 and front.max() > 2 * v.mount_shift  # a tripod moves far more


def test_seeded_resets_draw_the_same_look():
    a = camera_offsets(SceneVariation(), range(3))
    b = camera_offsets(SceneVariation(), range(3))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_out_of_range_variation_is_refused_by_name():
    with pytest.raises(ValueError, match="mount_shift"):
        SceneVariation(mount_shift=-0.01)
