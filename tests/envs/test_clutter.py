"""Extra objects at every reset (``SceneVariation.clutter``): on the table, clear of the task, never in the expert's way."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt_envs.language_env import expert_action
from cliprt_envs.sim.backend import SimConfig
from cliprt_envs.sim.clutter import CLUTTER_SHAPES, GAP, MAX_CLUTTER, TABLE_X, TABLE_Y, TARGET_GAP
from cliprt_envs.sim.scene import CLUTTER_PARK_Z, TABLE_TOP_Z
from cliprt_envs.sim.variation import SceneVariation


def cluttered(task: str, most: int = MAX_CLUTTER, **kwargs):
    return gym.make(
        f"CLIPRT-UR5Sim-{task}-v0", image_size=32, sim_config=SimConfig(variation=SceneVariation(clutter=most)), **kwargs
    )


def test_spare_objects_land_on_the_table_clear_of_the_task_and_the_rest_wait_unseen():
    env = cluttered("Pick")
    try:
        backend, task = env.unwrapped.backend, env.unwrapped.task
        model, data = backend.model, backend.data
        spares = [f"clutter_{name}" for name, _, _ in CLUTTER_SHAPES]
        counts, sizes = set(), set()
        for seed in range(12):
            env.reset(seed=seed)
            placed = backend._clutter.placed
            counts.add(len(placed))
            target = backend.object_position(task.target_item.obj.name)
            others = [backend.object_position(i.obj.name) for i in task.items]
            for name in spares:
                body = model.body(name).id
                geom = int(np.flatnonzero(model.geom_bodyid == body)[0])
                pos = data.xpos[body]
                if name in placed:
                    sizes.add(round(float(model.geom_size[geom, 0]), 4))
                    assert TABLE_X[0] <= pos[0] <= TABLE_X[1] and TABLE_Y[0] <= pos[1] <= TABLE_Y[1]
                    assert TABLE_TOP_Z < pos[2] < TABLE_TOP_Z + 0.08, "it rests on the table (settled, not floating)"
                    assert model.geom_rgba[geom, 3] == 1.0
                    assert np.linalg.norm(pos[:2] - target[:2]) >= TARGET_GAP
                    assert all(np.linalg.norm(pos[:2] - o[:2]) >= GAP for o in others)
                else:
                    assert pos[2] == pytest.approx(CLUTTER_PARK_Z, abs=1e-6), "a parked spare does not fall"
                    assert model.geom_rgba[geom, 3] == 0.0
        assert counts <= set(range(MAX_CLUTTER + 1)) and len(counts) >= 3, counts
        assert len(sizes) > 4, "every reset draws new sizes"
    finally:
        env.close()


@pytest.mark.parametrize("task", ["Push", "OpenDrawer"])
def test_the_expert_still_succeeds_among_the_extra_objects(task):
    env = cluttered(task)
    try:
        placed = 0
        for seed in range(3):
            env.reset(seed=seed)
            placed += len(env.unwrapped.backend._clutter.placed)
            done = False
            while not done:
                _, _, terminated, truncated, info = env.step(expert_action(env))
                done = terminated or truncated
            assert info["is_success"], f"{task} seed {seed}: the expert failed among the extra objects"
        assert placed > 0
    finally:
        env.close()


def test_no_clutter_builds_the_scene_as_before():
    """clutter=0 (the default) adds no bodies and draws nothing from the reset's random stream."""
    looks = []
    for variation in (SceneVariation(), SceneVariation(clutter=0)):
        env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32, sim_config=SimConfig(variation=variation))
        try:
            obs, _ = env.reset(seed=5)
            model = env.unwrapped.backend.model
            looks.append((obs["instruction"], obs["image"].copy(), model.nbody))
        finally:
            env.close()
    assert looks[0][0] == looks[1][0] and looks[0][2] == looks[1][2]
    np.testing.assert_array_equal(looks[0][1], looks[1][1])
    with_clutter = cluttered("Pick")
    try:
        assert with_clutter.unwrapped.backend.model.nbody == looks[0][2] + len(CLUTTER_SHAPES)
    finally:
        with_clutter.close()


def test_a_seeded_cluttered_reset_is_reproducible_and_bad_counts_are_refused():
    views = []
    for _ in range(2):
        env = cluttered("Place")
        try:
            obs, _ = env.reset(seed=2)
            views.append((obs["image"].copy(), env.unwrapped.backend._clutter.placed))
        finally:
            env.close()
    np.testing.assert_array_equal(views[0][0], views[1][0])
    assert views[0][1] == views[1][1]
    with pytest.raises(ValueError, match="clutter"):
        SceneVariation(clutter=MAX_CLUTTER + 1)
    with pytest.raises(ValueError, match="clutter"):
        SceneVariation(clutter=1.5)
