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


# -- renaming the named colours (pretraining corpora) ------------------------------------------


def test_colour_words_are_renamed_at_once_and_one_to_one():
    from cliprt_envs.sim.colours import COLOURS, NAMED_COLOURS, draw_renaming, rename_colours

    swap = {"red": "blue", "blue": "red"}
    assert rename_colours("put the red cube on the blue plate, not the reddish one", swap) == (
        "put the blue cube on the red plate, not the reddish one"
    )
    rng = np.random.default_rng(0)
    draws = [draw_renaming(rng) for _ in range(50)]
    for renaming in draws:
        assert set(renaming) == set(COLOURS) and set(renaming.values()) <= set(NAMED_COLOURS)
        assert len(set(renaming.values())) == len(COLOURS)  # one-to-one: no two colours merge
    assert {name for r in draws for name in r.values()} == set(NAMED_COLOURS)  # the whole palette is used


def test_the_unseen_palette_is_named_by_no_task_and_used_by_no_corpus():
    """Every colour of an ``unseen_colours`` scene is a word no task, phrasing or corpus of this project uses."""
    import re

    from cliprt_data.corpus import CorpusConfig
    from cliprt_envs.registry import SIM_TASKS
    from cliprt_envs.sim.colours import COLOURS, NAMED_COLOURS, UNSEEN_COLOURS, draw_renaming

    assert len(UNSEEN_COLOURS) == len(COLOURS) and not set(UNSEEN_COLOURS) & set(NAMED_COLOURS)
    words = set()
    for entry in SIM_TASKS:
        task = entry.task_class(image_size=(8, 8))
        texts = [*task.templates, *task.heldout_templates, task.summary, *(item.label for item in task.items)]
        words |= {w for text in texts for w in re.findall(r"[a-z]+", text.lower())}
    assert not words & set(UNSEEN_COLOURS)
    rng = np.random.default_rng(0)
    for _ in range(20):  # all six renamed, one-to-one, into the unseen palette
        assert sorted(draw_renaming(rng, "unseen").values()) == sorted(UNSEEN_COLOURS)
    assert "palette" not in {f for f in CorpusConfig.__dataclass_fields__}  # a corpus cannot ask for it ...
    assert SceneVariation(recolour=1.0).palette == "corpus"  # ... and renames into the corpus palette
    with pytest.raises(ValueError, match="palette"):
        SceneVariation(palette="sunset")


def painted_rgb(env: gym.Env, body: str) -> np.ndarray:
    import mujoco

    model = env.unwrapped.backend.model
    b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    return model.geom_rgba[np.flatnonzero(model.geom_bodyid == b)[0], :3].copy()


@pytest.mark.parametrize(("task", "palette"), [("Place", "corpus"), ("OpenDrawer", "corpus"), ("Place", "unseen")])
def test_a_recoloured_scene_is_painted_as_its_instruction_says(task, palette):
    """The instruction's colour words name the hue the target now has; the task itself is unchanged."""
    from cliprt_envs.sim.colours import COLOURS, PALETTES, muted

    named = PALETTES[palette]  # the colours the scene is renamed into
    variation = SceneVariation(recolour=1.0, palette=palette)
    env = gym.make(f"CLIPRT-UR5Sim-{task}-v0", image_size=32, sim_config=SimConfig(variation=variation))
    try:
        renamed = 0
        for seed in range(6):
            obs, _ = env.reset(seed=seed)
            backend, sim_task = env.unwrapped.backend, env.unwrapped.task
            renaming = backend.colour_renaming
            assert set(renaming) == set(COLOURS)
            renamed += any(k != v for k, v in renaming.items())
            if task == "Place":
                item = sim_task.target_item
                rgb, expected = painted_rgb(env, item.obj.name), named[renaming[item.colour]]
                # the object's own shade varies by +-12% with its hue kept: compare directions, not values
                cos = rgb @ np.array(expected[:3]) / (np.linalg.norm(rgb) * np.linalg.norm(expected[:3]))
                assert cos > 0.99 and f"{renaming[item.colour]} {item.noun}" in obs["instruction"]
            else:
                colour = sim_task.drawer.split("_")[0]
                words = obs["instruction"].split()
                assert renaming[colour] in words
                assert not (set(words) & set(named)) - {renaming[colour]}
                tone = muted(named[renaming[colour]])[:3]
                front = [g for g in range(backend.model.ngeom) if np.allclose(backend.model.geom_rgba[g, :3], tone)]
                assert front, "the named drawer is painted in the muted tone of its new colour"
        assert renamed >= 5
    finally:
        env.close()


def test_no_recolouring_keeps_the_scene_and_its_random_stream():
    """recolour=0 (the default) draws nothing: looks and instructions are the ones from before it existed."""
    looks = []
    for variation in (SceneVariation(), SceneVariation(recolour=0.0)):
        env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32, sim_config=SimConfig(variation=variation))
        try:
            obs, _ = env.reset(seed=3)
            looks.append((obs["instruction"], obs["image"].copy(), env.unwrapped.backend.colour_renaming))
        finally:
            env.close()
    assert looks[0][0] == looks[1][0] and looks[0][2] == {} and looks[1][2] == {}
    np.testing.assert_array_equal(looks[0][1], looks[1][1])
    with pytest.raises(ValueError, match="recolour"):
        SceneVariation(recolour=1.5)


# -- the named scene conditions of the runner (cliprt_envs.sim.scenes) ------------------------------------------


@pytest.mark.parametrize("name", ["benchmark", "renamed_colours", "unseen_colours", "extra_objects"])
def test_each_scene_condition_changes_only_what_it_names(name):
    from dataclasses import fields

    from cliprt_envs.sim.scenes import SCENES, scene_sim_config

    config = scene_sim_config(name)
    if not SCENES[name]:
        assert config is None
        return
    variation = config.variation
    for f in fields(SceneVariation):
        expected = SCENES[name].get(f.name, 0 if isinstance(f.default, (int, float)) else f.default)
        assert getattr(variation, f.name) == expected, f.name


def test_an_unseen_colours_scene_names_only_unseen_colours():
    from cliprt_envs.sim.colours import NAMED_COLOURS, UNSEEN_COLOURS
    from cliprt_envs.sim.scenes import scene_sim_config

    env = gym.make("CLIPRT-UR5Sim-Place-v0", image_size=32, sim_config=scene_sim_config("unseen_colours"))
    try:
        for seed in range(4):
            words = set(env.reset(seed=seed)[0]["instruction"].split())
            assert len(words & set(UNSEEN_COLOURS)) == 2 and not words & set(NAMED_COLOURS)  # object and plate
    finally:
        env.close()
