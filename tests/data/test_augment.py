"""Stochastic trajectory augmentation: planning pieces, labels, displacement, success."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401
from cliprt_data.augment import (
    STAConfig,
    decompose,
    diversify,
    find_waypoints,
    inverse,
    sample_deviation,
    segments,
)
from cliprt_data.storage import DatasetReader, check_dataset
from cliprt_envs.language_env import EnvState
from cliprt_envs.motions import Vocabulary, default_vocabulary
from cliprt_envs.registry import SIM_TASKS

from .conftest import PICK, SMALL

V = default_vocabulary()


def ids(*texts: str) -> list[int]:
    return [V.id_of(t) for t in texts]


LEFT5, LEFT1, RIGHT1 = (
    "move the arm to the left by 5 centimeters",
    "move the arm to the left by 1 centimeter",
    "move the arm to the right by 1 centimeter",
)
FWD1, DOWN20, UP10 = (
    "move the arm forward by 1 centimeter",
    "lower the arm by 20 centimeters",
    "raise the arm up by 10 centimeters",
)
CLOSE, ROLL15, YAW5 = "close the gripper", "roll arm 15 degrees clockwise", "yaw arm 5 degrees counterclockwise"


def test_waypoints_at_gripper_changes_and_reversals():
    assert find_waypoints(ids(LEFT5, LEFT1, FWD1, DOWN20, CLOSE, UP10), V) == [0, 4, 5, 6]
    assert find_waypoints(ids(LEFT5, RIGHT1, LEFT1), V) == [0, 1, 2, 3]
    assert find_waypoints(ids(LEFT5, FWD1, LEFT1), V) == [0, 3]  # other axes do not break progress
    segs = segments(ids(LEFT5, LEFT1, CLOSE, UP10), V)
    assert [(s.start, s.end, s.gripper) for s in segs] == [(0, 2, False), (2, 3, True), (3, 4, False)]


@pytest.mark.parametrize("seed", range(20))
def test_decompose_sums_exactly_and_never_gets_stuck(seed):
    rng = np.random.default_rng(seed)
    parts = decompose(0.16, V.position_magnitudes, rng)
    assert parts is not None and abs(sum(parts) - 0.16) < 1e-9 and all(p in V.position_magnitudes for p in parts)
    assert decompose(0.06, (0.02, 0.05), rng) == [0.02, 0.02, 0.02]
    assert decompose(0.03, (0.02, 0.05), rng) is None
    assert decompose(0.0, (0.02,), rng) == []


@pytest.mark.parametrize("seed", range(20))
def test_diversify_keeps_the_displacement_and_rotation_order(seed):
    rng = np.random.default_rng(seed)
    prefix = ids(LEFT5, ROLL15, LEFT5, FWD1, YAW5, FWD1, DOWN20)
    plan = diversify(prefix, V, rng)
    np.testing.assert_allclose(V.deltas[plan].sum(0), V.deltas[prefix].sum(0), atol=1e-12)
    rotations = [m for m in plan if V[m].axis not in ("x", "y", "z")]
    assert rotations == ids(ROLL15, YAW5)


def test_deviation_rule():
    rng = np.random.default_rng(0)
    fine = V.id_of(DOWN20)
    for _ in range(20):
        dev = sample_deviation(V, fine, (0.01, 0.05, 0.1), rng)
        assert inverse(V, fine) in dev  # minus the fine move on its own axis
        assert sorted(V[m].axis for m in dev) == ["x", "y", "z"]
        z = [i for i, m in enumerate(dev) if V[m].axis == "z"]
        assert z == [0]  # the upward deviation goes first, so the reversal ends coming down
        dev = sample_deviation(V, fine, (0.01,), rng, own_axis=False)
        assert sorted(V[m].axis for m in dev) == ["x", "y"] and all(abs(V[m].value) == 0.01 for m in dev)
    grip = sample_deviation(V, V.id_of(CLOSE), (0.01, 0.05), rng)
    assert sorted(V[m].axis for m in grip) == ["x", "y", "z"]


def test_custom_vocabulary_planning():
    vocab = Vocabulary.build(position_magnitudes=(0.02, 0.05), rotation_magnitudes_deg=(10.0,))
    rng = np.random.default_rng(1)
    prefix = [vocab.find("x", 1, 0)] * 3  # 6 cm in 2 cm steps: only 2+2+2 reaches it
    assert diversify(prefix, vocab, rng) == prefix


# -- the whole pipeline on recorded Pick demonstrations ----------------------------------------


def _episodes(path, images=False):
    info = check_dataset(path)
    with DatasetReader(path) as reader:
        return info, [reader.episode(i, images=images) for i in range(info.total_episodes)]


def test_sta_report_and_success_rate(pick_demos, pick_augmented):
    out, report = pick_augmented
    stats = report["per_task"]["Pick"]
    assert stats["demos"] == 3 and stats["requested"] == 6
    assert stats["kept"] == 6, stats  # every requested trajectory was produced
    assert stats["success_rate"] >= 0.75, stats  # and few attempts were dropped
    assert stats["dropped"] == sum(stats["drop_reasons"].values())
    assert stats["transitions_added"] >= 4 * stats["demo_transitions"]  # the paper: ~1K -> ~10K with 3 per demo
    assert stats["recoveries"] > 0
    info, eps = _episodes(out)
    assert info.total_episodes == 3 + 6  # demonstrations copied + augmented
    augmented = [e for e in eps if e.meta.get("source") == "augment"]
    assert len(augmented) == 6
    assert all(e.meta["success"] and e.infos["is_success"][-1] and e.terminations[-1] for e in augmented)
    assert (out / "augment_report.json").exists()


def test_sta_labels_only_recoveries_not_deviations(pick_augmented):
    out, _ = pick_augmented
    _, eps = _episodes(out)
    for ep in (e for e in eps if e.meta.get("source") == "augment"):
        kinds, labelled = ep.step_kinds, ep.labelled
        demonstrated = np.asarray(ep.infos["demonstrated"][1:], bool)
        assert set(kinds) <= {"diversify", "deviate", "recover", "demo"}
        for k, lab, dem in zip(kinds, labelled, demonstrated):
            assert lab == dem == (k != "deviate")
        # every block of deviations is followed by its reversal, in reverse order
        ids_ = ep.motion_ids.tolist()
        t = 0
        while t < len(kinds):
            if kinds[t] != "deviate":
                t += 1
                continue
            start = t
            while kinds[t] == "deviate":
                t += 1
            devs = ids_[start:t]
            recs = ids_[t : t + len(devs)]
            assert kinds[t : t + len(devs)] == ["recover"] * len(devs)
            assert recs == [inverse(V, m) for m in reversed(devs)]
            t += len(devs)
        assert "recover" in kinds


def test_sta_preserves_each_segments_displacement(pick_demos, pick_augmented):
    out, _ = pick_augmented
    _, demos = _episodes(pick_demos)
    _, eps = _episodes(out)
    for ep in (e for e in eps if e.meta.get("source") == "augment"):
        demo = demos[int(ep.meta["parent_episode"])]
        seg_of_step = np.asarray(ep.infos["segment"][1:])
        actions = ep.low_level_actions.astype(np.float64)
        demo_ids = demo.motion_ids.tolist()
        for seg in segments(demo_ids, V):
            want = V.deltas[demo_ids[seg.start : seg.end]].sum(0)
            got = actions[seg_of_step == seg.index].sum(0)
            np.testing.assert_allclose(got, want, atol=1e-6)
        assert set(seg_of_step.tolist()) == {s.index for s in segments(demo_ids, V)}


def test_sta_trajectories_replay_to_success(pick_augmented):
    """The stored episode is one continuous execution: replaying its actions reproduces it."""
    out, _ = pick_augmented
    _, eps = _episodes(out)
    env = gym.make(PICK, image_size=SMALL).unwrapped
    try:
        for ep in [e for e in eps if e.meta.get("source") == "augment"][:2]:
            env.reset(options={"state": EnvState.from_flat(ep.sim_states[0], ep.instruction)})
            info = {}
            for mid in ep.actions.tolist():
                _, _, _, _, info = env.step(int(mid))
            assert info["is_success"]
            np.testing.assert_allclose(env.proprio(), ep.observations["proprio"][-1], atol=1e-5)
    finally:
        env.close()


def test_sta_items_in_the_training_dataset(pick_augmented):
    from cliprt_data.datasets import load_training_dataset

    out, _ = pick_augmented
    ds = load_training_dataset(out, chunk_size=4)
    info = check_dataset(out)
    assert len(ds) == info.labelled_steps
    kinds = set()
    for i in range(len(ds)):
        item = ds[i]
        assert item["motion_id"] >= 0
    _, eps = _episodes(out)
    for e in eps:
        kinds.update(k for k, lab in zip(e.step_kinds, e.labelled) if lab)
    assert "deviate" not in kinds and "recover" in kinds


def test_augment_command_and_refusals(tmp_path, pick_demos, capsys):
    from cliprt.cli import main

    out = tmp_path / "cli-sta-v0"
    assert main(["augment", "--data", str(pick_demos), "--out", str(out), "--per-demo", "1", "--no-demos", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| Pick |" in printed and "transitions added" in printed
    info = check_dataset(out)
    assert info.total_episodes >= 2 and all(e["source"] == "augment" for e in info.episodes)
    assert main(["augment", "--data", str(pick_demos), "--out", str(out), "--no-progress"]) == 2  # exists
    assert "already holds a dataset" in capsys.readouterr().err
    with pytest.raises(ValueError):
        STAConfig(per_demo=-1)


def test_sta_needs_simulator_states(tmp_path):
    from cliprt_data.augment import augment_dataset
    from cliprt_data.convert import convert_episodes

    rng = np.random.default_rng(0)
    src = tmp_path / "converted-v0"
    convert_episodes([{"images": rng.integers(0, 255, (3, 32, 32, 3)), "actions": np.zeros((2, 7)), "instruction": "x"}], src)
    with pytest.raises(ValueError, match="no simulator states"):
        augment_dataset([src], tmp_path / "out-v0", progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", [e.env_id for e in SIM_TASKS])
def test_sta_on_every_registered_task(tmp_path, env_id):
    """Collection and STA are task-agnostic: every registered sim task augments, keeping displacements."""
    from cliprt_data.augment import augment_dataset
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    demos = tmp_path / "demos-v0"
    report = collect_demonstrations(CollectConfig(env_id, episodes=2, image_size=SMALL, max_attempts=6), demos, progress=False)
    assert report["episodes_saved"] == 2 and report["translation"]["mismatched"] == 0
    out = tmp_path / "sta-v0"
    aug = augment_dataset([demos], out, STAConfig(per_demo=1, seed=1), include_demos=False, progress=False)
    (stats,) = aug["per_task"].values()
    assert stats["kept"] >= 1, stats
    _, demo_eps = _episodes(demos)
    _, eps = _episodes(out)
    for ep in eps:
        assert ep.meta["success"]
        demo_ids = demo_eps[int(ep.meta["parent_episode"])].motion_ids.tolist()
        seg_of_step = np.asarray(ep.infos["segment"][1:])
        for seg in segments(demo_ids, V):
            want = V.deltas[demo_ids[seg.start : seg.end]].sum(0)
            np.testing.assert_allclose(ep.low_level_actions[seg_of_step == seg.index].astype(np.float64).sum(0), want, atol=1e-6)
