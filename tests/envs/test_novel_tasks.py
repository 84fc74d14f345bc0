"""The Common / Novel split of the twin's tasks (as in the CLIP-RT paper) and the Novel tasks themselves.

The generic checks of every task (random actions rarely succeed, restored
states, same seed same scene, ...) run on the Novel tasks too, in
``test_tasks.py``; here: the registry's split, phrasings of their own, new
object kinds, nothing solved at reset and the scripted experts.
"""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt_envs.language_env import expert_action
from cliprt_envs.registry import (
    COMMON_TASKS,
    NOVEL_TASKS,
    SIM_TASKS,
    TASK_SETS,
    SimTaskEntry,
    sim_env_ids,
    sim_tasks,
)

COMMON_NAMES = ("Pick", "PointTo", "Place", "Push", "Pull", "Slide", "KnockOver", "OpenDrawer")
NOVEL_IDS = [e.name for e in NOVEL_TASKS]
IMAGE = 32
EXPERT_SEEDS = 10


def _shape(template: str) -> str:
    """A template with its fields blanked: ``put the {target} on the {plate}`` -> ``put the {} on the {}``."""
    return re.sub(r"\{[^}]*\}", "{}", template.lower().strip())


def _templates(entries: tuple[SimTaskEntry, ...]) -> set[str]:
    """Every phrasing of the tasks, held-out ones included, with the fields blanked."""
    return {_shape(t) for e in entries for t in (*e.task_class.templates, *e.task_class.heldout_templates)}


def test_the_registry_splits_the_tasks_into_common_and_novel():
    assert TASK_SETS == ("common", "novel")
    assert tuple(e.name for e in COMMON_TASKS) == COMMON_NAMES
    assert len(NOVEL_TASKS) >= 4
    assert set(COMMON_TASKS).isdisjoint(NOVEL_TASKS)
    assert set(COMMON_TASKS) | set(NOVEL_TASKS) == set(SIM_TASKS)
    assert all(e.task_set == "common" for e in COMMON_TASKS)
    assert all(e.task_set == "novel" == e.task_class.task_set for e in NOVEL_TASKS)
    assert sim_tasks("novel") == NOVEL_TASKS and sim_tasks(None) == SIM_TASKS
    assert sim_env_ids("common") == tuple(f"CLIPRT-UR5Sim-{n}-v0" for n in COMMON_NAMES)
    assert sim_env_ids("novel") == tuple(e.env_id for e in NOVEL_TASKS)
    assert sim_env_ids() == tuple(e.env_id for e in SIM_TASKS)
    assert all(env_id in gym.registry for env_id in sim_env_ids("novel"))
    with pytest.raises(ValueError, match="unknown task set 'rare'"):
        sim_env_ids("rare")


def test_cliprt_envs_lists_a_set(capsys):
    from cliprt.cli import main

    assert main(["envs", "--set", "novel"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(sim_env_ids("novel"))
    assert all("novel task" in line for line in lines)
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "common task" in out and "novel task" in out


def test_novel_phrasings_are_their_own():
    """No Novel instruction is a Common one with other names filled in, and every Novel task has several."""
    common = _templates(COMMON_TASKS)
    for entry in NOVEL_TASKS:
        templates = entry.task_class.templates
        assert len(templates) >= 4, entry.name
        phrasings = (*templates, *entry.task_class.heldout_templates)
        assert len({_shape(t) for t in phrasings}) == len(phrasings), f"{entry.name} repeats a phrasing"
        shared = {_shape(t) for t in phrasings} & common
        assert not shared, f"{entry.name} reuses Common phrasings {shared}"


def test_the_scene_builds_hinged_lids_and_compound_objects():
    from cliprt_envs.sim.scene import CompoundObject, HingedLidSpec, ObjectPart, SceneSpec, build_mjcf

    lid = HingedLidSpec(name="lap", lid_face_rgba=(0.1, 0.1, 0.3, 1.0))
    with pytest.raises(ValueError, match="hinged lids need distinct names"):
        build_mjcf(SceneSpec(lids=(lid, lid)))
    handle = ObjectPart("cylinder", (0.01, 0.02), (0.0, 0.0, 0.03), (0.0, 1.0, 0.0, 1.0))
    knob = ObjectPart("sphere", (0.012,), (0.0, 0.0, 0.055), (0.0, 0.0, 1.0, 1.0), collide=False)
    stamp = CompoundObject("thing", "box", (0.02, 0.02, 0.01), (1.0, 0.0, 0.0, 1.0), parts=(handle, knob))
    mujoco = pytest.importorskip("mujoco")
    model = mujoco.MjModel.from_xml_string(build_mjcf(SceneSpec(objects=(stamp,), lids=(lid,))))
    assert model.joint("lap_hinge").type == mujoco.mjtJoint.mjJNT_HINGE
    assert model.body("lap_base").mocapid[0] >= 0
    for site in ("lap_hinge_axis", "lap_edge"):
        model.site(site)  # raises if absent
    assert model.body("thing").geomnum[0] == 3
    assert model.geom("thing_part1").contype[0] == 0  # the knob is for looks


@pytest.mark.sim
def test_novel_tasks_bring_object_kinds_the_common_tasks_lack():
    pytest.importorskip("mujoco")
    from cliprt_envs.sim.make import load_task

    def kinds(entry: SimTaskEntry) -> set[str]:
        task = load_task(entry.name, (IMAGE, IMAGE))
        scene = task.scene()
        found = {item.noun for item in task.items}
        if scene.lids:
            found.add("hinged lid")
        if scene.drawers or scene.drawer:
            found.add("drawer")
        return found

    common = set().union(*(kinds(e) for e in COMMON_TASKS))
    for entry in NOVEL_TASKS:
        assert kinds(entry) - common, f"{entry.name} uses only Common object kinds"


@pytest.mark.sim
@pytest.mark.parametrize("entry", NOVEL_TASKS, ids=NOVEL_IDS)
def test_novel_task_starts_unsolved_with_varied_instructions(entry: SimTaskEntry):
    env = gym.make(entry.env_id, image_size=IMAGE, reward_type="dense")
    try:
        instructions = set()
        for seed in range(20):
            obs, info = env.reset(seed=seed)
            task = env.unwrapped.task
            assert not info["is_success"] and not task.success(env.unwrapped.backend), f"seed {seed} starts solved"
            assert task.reward(env.unwrapped.backend) < 1.0
            instructions.add(obs["instruction"])
        common = _templates(COMMON_TASKS)
        assert len(instructions) >= 6
        assert all(_shape(i) not in common for i in instructions)
    finally:
        env.close()


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("entry", NOVEL_TASKS, ids=NOVEL_IDS)
def test_novel_expert_succeeds_within_the_step_limit(entry: SimTaskEntry):
    """Measured over 100 seeds each the experts succeed 100 times; here 10 seeds, all must succeed."""
    env = gym.make(entry.env_id, image_size=IMAGE)
    try:
        for seed in range(EXPERT_SEEDS):
            env.reset(seed=100 + seed)
            done, steps, info = False, 0, {"is_success": False}
            while not done:
                _, _, terminated, truncated, info = env.step(expert_action(env))
                steps += 1
                done = terminated or truncated
            assert info["is_success"], f"{entry.name}: expert failed on seed {100 + seed} after {steps} steps"
            assert steps <= entry.max_steps
    finally:
        env.close()
