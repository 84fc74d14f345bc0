"""Low-level actions -> language supervision, checked against hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cliprt_data.convert import ConversionConfig, convert_actions, convert_episodes, standardize
from cliprt_data.storage import DatasetReader, check_dataset
from cliprt_envs.motions import default_vocabulary, paraphrases

V = default_vocabulary()
MOTION = ConversionConfig(paraphrase=False)

# [dx, dy, dz, droll, dpitch, dyaw, absolute gripper] -> expected motion text (None: dropped, too small)
# Worked by hand with REFERENCE.md section 2: position dims x 7.854 for the argmax, keep above
# 0.01 m / 0.08727 rad, right-inclusive edges .03/.075/.15 m and .1746/.5236/1.1781 rad.
CASES = [
    ([0.02, 0.001, 0, 0, 0, 0, 1], "move the arm forward by 1 centimeter"),  # 0.02 <= .03
    ([0, -0.08, 0.005, 0, 0, 0, 1], "move the arm to the right by 10 centimeters"),  # .075 < .08 <= .15
    ([0.03, 0, 0, 0, 0, 0, 1], "move the arm forward by 1 centimeter"),  # on the edge: right-inclusive
    ([0.0301, 0, 0, 0, 0, 0, 1], "move the arm forward by 5 centimeters"),
    ([0.01, 0, 0, 0.3, 0, 0, 1], "roll arm 15 degrees clockwise"),  # .01 x 7.854 = .0785 < .3
    ([0.05, 0, 0, 0.35, 0, 0, 1], "move the arm forward by 5 centimeters"),  # .05 x 7.854 = .393 > .35
    ([0.009, 0, 0, 0, 0, 0, 1], None),  # below 1 cm
    ([0.01, 0, 0, 0, 0, 0, 1], None),  # must be strictly above 0.01 m
    ([0, 0, 0, 0.08, 0, 0, 1], None),  # below 0.08727 rad
    ([0, 0, -0.2, 0, 0, 0, 1], "lower the arm by 20 centimeters"),
    ([0, 0, 0, 0, 0, -1.2, 1], "yaw arm 90 degrees counterclockwise"),  # beyond 1.1781
    ([0, 0, 0, 0, 0.2, 0, 1], "tilt arm down 15 degrees"),  # .1746 < .2 <= .5236
    ([0.02, 0, 0, 0, 0, 0, 0], "close the gripper"),  # gripper 1 -> 0: change -1 overrides the move
    ([0, 0, 0, 0, 0, 0, 0], None),  # no change, no move
    ([0, 0, 0.05, 0, 0, 0, 1], "open the gripper"),  # 0 -> 1
    ([0, 0, 0.05, 0, 0, 0, 1.5], "raise the arm up by 5 centimeters"),  # change 0.5 is not > 0.5
]


def test_hand_computed_examples():
    actions = np.array([a for a, _ in CASES], dtype=np.float64)
    steps = convert_actions(actions, V, MOTION)
    got = [None if s.motion_id is None else V.text(s.motion_id) for s in steps]
    assert got == [e for _, e in CASES]
    for (row, expected), step in zip(CASES, steps):
        np.testing.assert_allclose(step.action[:6], row[:6], atol=1e-7)  # standardised action is kept
        if expected in ("open the gripper", "close the gripper"):
            assert step.action[7] == (1.0 if expected.startswith("open") else -1.0)
        else:
            assert step.action[7] == 0.0
        assert step.supervision == ("" if expected is None else expected)


def test_paraphrased_supervision_names_the_motion():
    actions = np.array([a for a, e in CASES if e is not None], dtype=np.float64)
    steps = convert_actions(actions, V, ConversionConfig(), np.random.default_rng(0))
    for step in steps:
        if step.motion_id is not None:
            assert step.supervision in paraphrases(V, step.motion_id)


def test_units_frames_and_gripper_conventions():
    mm_deg = ConversionConfig(position_scale=0.001, rotation_scale=math.pi / 180, paraphrase=False)
    steps = convert_actions(np.array([[20.0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 40.0, 1]]), V, mm_deg)
    assert [V.text(s.motion_id) for s in steps] == ["move the arm forward by 1 centimeter", "yaw arm 45 degrees clockwise"]
    flipped = ConversionConfig(signs=(1, -1, 1, 1, 1, 1), paraphrase=False)  # a y-right source
    assert (
        V.text(convert_actions(np.array([[0, 0.05, 0, 0, 0, 0, 1]]), V, flipped)[0].motion_id)
        == "move the arm to the right by 5 centimeters"
    )
    closed_high = ConversionConfig(gripper_open_high=False, paraphrase=False)
    steps = convert_actions(np.array([[0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]]), V, closed_high)
    assert steps[0].motion_id is None and V.text(steps[1].motion_id) == "close the gripper"
    first = ConversionConfig(initial_gripper=1.0, paraphrase=False)  # closing at the very first step
    assert V.text(convert_actions(np.array([[0, 0, 0, 0, 0, 0, 0]]), V, first)[0].motion_id) == "close the gripper"
    eight = ConversionConfig(gripper_rotation_column=6, gripper_column=7, paraphrase=False)
    step = convert_actions(np.array([[0, 0, 0, 0, 0, 0, 0.8, 1]]), V, eight)[0]
    assert V.text(step.motion_id) == "rotate the gripper 45 degrees clockwise"
    reordered = ConversionConfig(columns=(2, 1, 0, 3, 4, 5), paraphrase=False)
    assert (
        V.text(convert_actions(np.array([[0.2, 0, 0, 0, 0, 0, 1]]), V, reordered)[0].motion_id)
        == "raise the arm up by 20 centimeters"
    )


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="columns"):
        convert_actions(np.zeros((2, 3)), V)
    with pytest.raises(ValueError, match="NaN"):
        standardize(np.array([[np.nan, 0, 0, 0, 0, 0, 1]]), ConversionConfig())
    with pytest.raises(ValueError, match="signs"):
        ConversionConfig(signs=(2, 1, 1, 1, 1, 1))


def test_converted_dataset_keeps_small_steps_unlabelled(tmp_path):
    from cliprt_data.datasets import load_training_dataset

    rng = np.random.default_rng(0)
    actions = np.array([a for a, _ in CASES], dtype=np.float64)
    eps = [
        {"images": rng.integers(0, 256, (len(actions) + 1, 32, 32, 3), dtype=np.uint8), "actions": actions, "instruction": "wave"}
    ]
    counts = convert_episodes(eps, tmp_path / "conv-v0", config=MOTION)
    n_named = sum(e is not None for _, e in CASES)
    assert counts["labelled"] == n_named and counts["dropped_small"] == len(CASES) - n_named
    info = check_dataset(tmp_path / "conv-v0")
    assert info.metadata["action_kind"] == "continuous" and not info.has_sim_state
    with DatasetReader(tmp_path / "conv-v0") as reader:
        ep = reader.episode(0)
    assert ep.n_steps == len(CASES)
    assert [None if m < 0 else V.text(m) for m in ep.motion_ids] == [e for _, e in CASES]
    assert ep.actions.shape == (len(CASES), 8)
    assert len(load_training_dataset(tmp_path / "conv-v0")) == n_named
    assert len(load_training_dataset(tmp_path / "conv-v0", include_unlabelled=True)) == len(CASES)


def test_convert_command_reads_a_minari_dataset(tmp_path, capsys):
    import minari
    from gymnasium import spaces
    from minari.data_collector.episode_buffer import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    from cliprt.cli import main

    src = tmp_path / "oxe-like-v0" / "data"
    src.mkdir(parents=True)
    obs_space = spaces.Dict({"image": spaces.Box(0, 255, (32, 32, 3), np.uint8), "language": spaces.Text(64)})
    storage = MinariStorage.new(src, obs_space, spaces.Box(-1, 1, (7,), np.float32), data_format="hdf5")
    storage.update_metadata({"dataset_id": "oxe-like-v0", "minari_version": minari.__version__})
    actions = np.array([a for a, _ in CASES], dtype=np.float32)
    n = len(actions)
    rng = np.random.default_rng(1)
    buffer = EpisodeBuffer(
        observations={"image": rng.integers(0, 256, (n + 1, 32, 32, 3), dtype=np.uint8), "language": ["wave hello"] * (n + 1)},
        actions=actions,
        rewards=[0.0] * n,
        terminations=[False] * (n - 1) + [True],
        truncations=[False] * n,
    )
    storage.update_episodes([buffer])
    out = tmp_path / "converted-v0"
    assert main(["convert", "--data", str(src.parent), "--out", str(out), "--instruction-key", "language", "--no-progress"]) == 0
    assert "converted 1 episodes" in capsys.readouterr().out
    with DatasetReader(out) as reader:
        ep = reader.episode(0)
    assert ep.instruction == "wave hello"
    assert [None if m < 0 else V.text(m) for m in ep.motion_ids] == [e for _, e in CASES]
    assert main(["convert", "--data", str(src.parent), "--out", str(tmp_path / "x-v0")]) == 2  # no instruction source
    assert "--instruction" in capsys.readouterr().err
