"""The pretraining corpus: varied scenes, perturbations unlabelled, every label the expert's at its state, disjoint seeds."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from cliprt_data.corpus import CorpusConfig, generate_corpus

    out = tmp_path_factory.mktemp("corpus") / "c"
    config = CorpusConfig(episodes_per_task=3, tasks=("PointTo", "Pick"), perturb_prob=0.3)
    return config, out, generate_corpus(config, out, progress=False)


def test_labels_are_the_experts_at_their_states_and_perturbations_are_not_labels(corpus):
    import cliprt_envs  # noqa: F401
    from cliprt_data.augment.agreement import expert_labels_at_states
    from cliprt_data.storage import DatasetReader

    _, out, report = corpus
    perturbed = labelled = 0
    for task in ("PointTo", "Pick"):
        env = gym.make(f"CLIPRT-UR5Sim-{task}-v0", image_size=64)
        with DatasetReader(out / task) as reader:
            for index in range(reader.info.total_episodes):
                ep = reader.episode(index, images=False)
                want = expert_labels_at_states(env.unwrapped, ep)
                kinds = np.array(ep.step_kinds)
                assert set(kinds) <= {"expert", "perturb"}
                assert not ep.labelled[kinds == "perturb"].any()
                assert ep.labelled[kinds == "expert"].all()
                np.testing.assert_array_equal(ep.motion_ids[kinds == "expert"], want[kinds == "expert"])
                perturbed += int((kinds == "perturb").sum())
                labelled += int((kinds == "expert").sum())
        env.close()
    assert perturbed > 0 and labelled == report["labelled_steps"]


def test_the_same_recipe_records_the_same_corpus(corpus, tmp_path):
    """Recording is deterministic for one code version: same seeds, images, motions and labels (the card pins the commit)."""
    from cliprt_data.corpus import generate_corpus
    from cliprt_data.storage import DatasetReader

    config, out, report = corpus
    again = generate_corpus(config, tmp_path / "again", progress=False)
    assert again["labelled_steps"] == report["labelled_steps"] and again["recipe_hash"] == report["recipe_hash"]
    for task in config.tasks:
        with DatasetReader(out / task) as first, DatasetReader(tmp_path / "again" / task) as second:
            assert first.info.total_episodes == second.info.total_episodes
            for index in range(first.info.total_episodes):
                a, b = first.episode(index), second.episode(index)
                assert a.instruction == b.instruction and a.step_kinds == b.step_kinds
                np.testing.assert_array_equal(a.motion_ids, b.motion_ids)
                np.testing.assert_array_equal(a.labelled, b.labelled)
                np.testing.assert_array_equal(a.observations["image"], b.observations["image"])


def test_corpus_seeds_are_disjoint_from_benchmark_and_demo_seeds(corpus):
    from cliprt_data.storage import DatasetReader
    from cliprt_envs.seeds import CORPUS_SEED_BASE, MAX_BENCH_SEED, SEED_STRIDE, bench_reset_seed, corpus_reset_seed

    _, out, _ = corpus
    with DatasetReader(out / "Pick") as reader:
        seeds = [e["seed"] for e in reader.info.episodes]
    assert len(set(seeds)) == len(seeds) and min(seeds) >= CORPUS_SEED_BASE
    assert bench_reset_seed(MAX_BENCH_SEED, SEED_STRIDE - 1) < corpus_reset_seed(0)
    with pytest.raises(ValueError):
        bench_reset_seed(MAX_BENCH_SEED + 1, 0)


def test_benchmark_refuses_seeds_in_the_corpus_range_and_the_demo_benchmarks_past_its_demos():
    from cliprt.demo.pipeline import EVAL_SEED, DemoConfig
    from cliprt.evaluation.settings import BenchConfig
    from cliprt_envs.seeds import MAX_BENCH_SEED, SEED_STRIDE

    with pytest.raises(ValueError, match="pretraining corpus"):
        BenchConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), seeds=(MAX_BENCH_SEED + 1,))
    # demonstrations use reset seeds 0.. (a few hundred at most); the main job benchmarks from EVAL_SEED * stride
    assert EVAL_SEED >= 1 and DemoConfig.demos_per_task * 3 < SEED_STRIDE


def test_scenes_vary_between_episodes_and_the_recipe_is_checked_on_resume(corpus):
    from cliprt_data.corpus import CorpusConfig, generate_corpus
    from cliprt_data.storage import DatasetReader

    config, out, report = corpus
    with DatasetReader(out / "PointTo") as reader:
        first = [reader.episode(i).observations["image"][0].astype(float) for i in range(2)]
    assert np.abs(first[0] - first[1]).mean() > 5.0  # other colours, light and camera pose
    again = generate_corpus(config, out, progress=False)  # finished: nothing is redone
    assert again["episodes"] == report["episodes"] == 6
    assert json.loads((out / "corpus.json").read_text())["recipe_hash"] == config.recipe_hash()
    with pytest.raises(ValueError, match="another recipe"):
        generate_corpus(CorpusConfig(episodes_per_task=4, tasks=("PointTo", "Pick")), out, progress=False)


def test_novel_tasks_are_refused():
    from cliprt_data.corpus import CorpusConfig, corpus_tasks

    with pytest.raises(ValueError, match="Common tasks only"):
        corpus_tasks(CorpusConfig(tasks=("NoSuchTask",)))


def test_a_driver_runs_its_motions_and_every_step_keeps_the_experts_label(tmp_path):
    import cliprt_envs  # noqa: F401
    from cliprt_data.augment.agreement import expert_labels_at_states
    from cliprt_data.corpus import CorpusConfig, generate_corpus
    from cliprt_data.storage import DatasetReader

    class Stubborn:  # always the same motion: far from what the expert wants
        def reset(self, instruction):
            self.instruction = instruction

        def act(self, obs):
            return 3

    config = CorpusConfig(episodes_per_task=1, tasks=("PointTo",), perturb_prob=0.0, driver_prob=1.0, step_limit_factor=1.0)
    with pytest.raises(ValueError, match="needs a driver"):
        generate_corpus(config, tmp_path / "none", progress=False)
    generate_corpus(config, tmp_path / "c", progress=False, driver=Stubborn(), driver_name="stubborn")
    env = gym.make("CLIPRT-UR5Sim-PointTo-v0", image_size=64)
    with DatasetReader(tmp_path / "c" / "PointTo") as reader:
        ep = reader.episode(0, images=False)
    assert set(ep.step_kinds) == {"policy"} and ep.labelled.all()
    assert (np.asarray(ep.actions).reshape(-1) == 3).all()  # what ran
    np.testing.assert_array_equal(ep.motion_ids, expert_labels_at_states(env.unwrapped, ep))  # what it is labelled with
    assert (ep.motion_ids != 3).any()
    env.close()
    with pytest.raises(ValueError, match="another recipe or driver"):
        generate_corpus(config, tmp_path / "c", progress=False, driver=Stubborn(), driver_name="another")


@pytest.mark.parametrize(("name", "on", "bad"), [("recolour", 0.5, 2.0), ("clutter", 2, 9)])
def test_a_later_corpus_option_is_part_of_the_recipe_only_when_on(name, on, bad):
    """Corpora recorded before an option existed keep their recipe hash; turning it on makes another corpus."""
    from cliprt_data.corpus import CorpusConfig

    plain = CorpusConfig(episodes_per_task=5)
    assert name not in plain.to_dict()
    assert plain.recipe_hash() != CorpusConfig(episodes_per_task=5, **{name: on}).recipe_hash()
    assert CorpusConfig(episodes_per_task=5, **{name: on}).to_dict()[name] == on
    with pytest.raises(ValueError, match="variation"):
        CorpusConfig(variation=False, **{name: on})
    with pytest.raises(ValueError, match=name):
        CorpusConfig(**{name: bad})


def test_a_recoloured_corpus_names_colours_the_benchmark_never_shows(tmp_path):
    """``--recolour 1``: the recorded instructions use the wider palette, and every label is still the expert's."""
    import cliprt_envs  # noqa: F401
    from cliprt_data.augment.agreement import expert_labels_at_states
    from cliprt_data.corpus import CorpusConfig, generate_corpus
    from cliprt_data.storage import DatasetReader
    from cliprt_envs.sim.colours import CORPUS_COLOURS, NAMED_COLOURS

    out = tmp_path / "recoloured"
    generate_corpus(CorpusConfig(episodes_per_task=6, tasks=("Pick",), recolour=1.0, perturb_prob=0.0), out, progress=False)
    env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64)
    words = []
    with DatasetReader(out / "Pick") as reader:
        for index in range(reader.info.total_episodes):
            ep = reader.episode(index, images=False)
            words += [w for w in ep.instruction.split() if w in NAMED_COLOURS]
            np.testing.assert_array_equal(ep.motion_ids[ep.labelled], expert_labels_at_states(env.unwrapped, ep)[ep.labelled])
    env.close()
    assert len(words) == 6 and set(words) & set(CORPUS_COLOURS)


def test_a_cluttered_corpus_keeps_the_experts_labels(tmp_path):
    """``--clutter 4``: extra objects lie on the table in the recorded frames, and every label is the expert's."""
    import cliprt_envs  # noqa: F401
    from cliprt_data.augment.agreement import expert_labels_at_states
    from cliprt_data.corpus import CorpusConfig, generate_corpus
    from cliprt_data.storage import DatasetReader
    from cliprt_envs.language_env import EnvState
    from cliprt_envs.sim.backend import SimConfig
    from cliprt_envs.sim.variation import SceneVariation

    out = tmp_path / "cluttered"
    generate_corpus(CorpusConfig(episodes_per_task=4, tasks=("Push",), clutter=4, perturb_prob=0.0), out, progress=False)
    env = gym.make("CLIPRT-UR5Sim-Push-v0", image_size=64, sim_config=SimConfig(variation=SceneVariation(clutter=4)))
    backend, on_table = env.unwrapped.backend, 0
    with DatasetReader(out / "Push") as reader:
        assert reader.info.total_episodes == 4
        for index in range(4):
            ep = reader.episode(index, images=False)
            np.testing.assert_array_equal(ep.motion_ids[ep.labelled], expert_labels_at_states(env.unwrapped, ep)[ep.labelled])
            env.unwrapped.restore_state(EnvState.from_flat(ep.sim_states[0], ep.instruction))
            on_table += sum(backend.data.xpos[backend.model.body(o.name).id][2] > -1.0 for o in backend.scene.clutter)
    env.close()
    assert on_table > 0
