import math

import numpy as np
import pytest

from cliprt_envs.motions import (
    PAPER_MIN_POSITION_M,
    PAPER_MIN_ROTATION_RAD,
    UnknownMotionError,
    Vocabulary,
    default_vocabulary,
    paraphrases,
    random_paraphrase,
)


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return default_vocabulary()


def test_paper_table_has_58_motions_with_paper_ids(vocab):
    assert len(vocab) == 58
    assert vocab.text(56) == "close the gripper"
    assert vocab.text(57) == "open the gripper"
    assert vocab.deltas.shape == (58, 8)
    # 7 axes x 8 magnitudes before the gripper commands
    axes = [m.axis for m in vocab.motions[:56]]
    for axis in ("x", "y", "z", "roll", "pitch", "yaw", "gripper_rotation"):
        assert axes.count(axis) == 8


@pytest.mark.parametrize(
    ("text", "dim", "value"),
    [
        ("move the arm to the left by 5 centimeters", 1, 0.05),
        ("move the arm to the right by 20 centimeters", 1, -0.20),
        ("move the arm forward by 1 centimeter", 0, 0.01),
        ("move the arm back by 10 centimeters", 0, -0.10),
        ("raise the arm up by 10 centimeters", 2, 0.10),
        ("lower the arm by 1 centimeter", 2, -0.01),
        ("roll arm 5 degrees clockwise", 3, math.radians(5)),
        ("tilt arm up 45 degrees", 4, -math.radians(45)),
        ("yaw arm 90 degrees counterclockwise", 5, -math.radians(90)),
        ("rotate the gripper 15 degrees clockwise", 6, math.radians(15)),
        ("close the gripper", 7, -1.0),
        ("open the gripper", 7, 1.0),
    ],
)
def test_text_to_delta(vocab, text, dim, value):
    delta = vocab.delta(vocab.id_of(text))
    expected = np.zeros(8)
    expected[dim] = value
    np.testing.assert_allclose(delta, expected, atol=1e-9)


def test_lookup_is_case_and_space_insensitive(vocab):
    assert vocab.id_of("  Move the ARM to the   left by 5 centimeters. ") == vocab.id_of(
        "move the arm to the left by 5 centimeters"
    )
    assert "OPEN THE GRIPPER" in vocab
    assert 57 in vocab and 58 not in vocab


def test_unknown_text_lists_near_matches(vocab):
    with pytest.raises(UnknownMotionError) as err:
        vocab.id_of("move the arm to the left by 7 centimeters")
    message = str(err.value)
    assert "did you mean" in message and "left by 5 centimeters" in message


def test_bad_ids(vocab):
    with pytest.raises(UnknownMotionError):
        vocab.delta(58)
    with pytest.raises(UnknownMotionError):
        vocab.text(-1)
    with pytest.raises(TypeError):
        vocab.delta(1.5)


def test_deltas_are_read_only(vocab):
    with pytest.raises(ValueError):
        vocab.deltas[0, 0] = 1.0
    d = vocab.delta(0)
    d[0] = 123.0
    assert vocab.delta(0)[0] != 123.0


def test_every_primitive_maps_back_to_itself(vocab):
    for motion in vocab:
        assert vocab.nearest(motion.delta) == motion.id


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        # dominant axis after scaling position by 7.854: 0.04 m * 7.854 = 0.314 > 0.2 rad
        ([0.04, 0, 0, 0.2, 0, 0, 0], "move the arm forward by 5 centimeters"),
        # 0.02 m * 7.854 = 0.157 < 0.2 rad -> rotation wins, 0.2 rad bins to 15 degrees
        ([0.02, 0, 0, 0.2, 0, 0, 0], "roll arm 15 degrees clockwise"),
        # paper edges: -0.15 < -0.12 <= -0.075 -> -10 cm
        ([0, -0.12, 0, 0, 0, 0, 0], "move the arm to the right by 10 centimeters"),
        ([0, 0, 0.3, 0, 0, 0, 0], "raise the arm up by 20 centimeters"),
        ([0, 0, -0.03, 0, 0, 0, 0], "lower the arm by 1 centimeter"),  # right-inclusive edge at .03
        ([0, 0, 0, 0, 0, -1.2, 0], "yaw arm 90 degrees counterclockwise"),
        ([0.1, 0, 0, 0, 0, 0, 0.9], "open the gripper"),  # gripper change overrides motion
        ([0.1, 0, 0, 0, 0, 0, -0.9], "close the gripper"),
    ],
)
def test_dominant_axis_rule(vocab, delta, expected):
    assert vocab.nearest(delta) == vocab.id_of(expected)


def test_paper_thresholds_drop_small_actions(vocab):
    kw = {"min_position": PAPER_MIN_POSITION_M, "min_rotation": PAPER_MIN_ROTATION_RAD}
    assert vocab.nearest([0.009, 0, 0, 0, 0, 0, 0], **kw) is None
    assert vocab.nearest([0.011, 0, 0, 0, 0, 0, 0], **kw) == vocab.id_of("move the arm forward by 1 centimeter")
    assert vocab.nearest([0, 0, 0, 0.08, 0, 0, 0], **kw) is None
    assert vocab.nearest([0, 0, 0, 0, 0, 0, 0.3]) is None  # small gripper change, no motion


def test_nearest_rejects_bad_input(vocab):
    with pytest.raises(ValueError):
        vocab.nearest([0.1, 0.2])
    with pytest.raises(ValueError):
        vocab.nearest([np.nan] * 7)


def test_custom_vocabulary_is_a_value():
    coarse = Vocabulary.build(position_magnitudes=(0.02, 0.08), rotation_magnitudes_deg=(30,), axes=("x", "y", "z", "yaw"))
    assert len(coarse) == 3 * 4 + 2 + 2
    assert coarse.id_of("move the arm to the left by 8 centimeters") >= 0
    assert coarse.nearest([0, 0.07, 0, 0, 0, 0, 0]) == coarse.id_of("move the arm to the left by 8 centimeters")
    # a roll cannot be expressed: position wins if present, else nothing
    assert coarse.nearest([0, 0, 0, 0.5, 0, 0, 0]) is None
    assert coarse == Vocabulary.build(
        position_magnitudes=(0.08, 0.02), rotation_magnitudes_deg=(30,), axes=("x", "y", "z", "yaw")
    )
    fine = Vocabulary.build(position_magnitudes=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2))
    assert len(fine) == 3 * 12 + 4 * 8 + 2
    for motion in fine:
        assert fine.nearest(motion.delta) == motion.id


@pytest.mark.parametrize(
    "kwargs",
    [
        {"position_magnitudes": (0.01, 0.01)},
        {"position_magnitudes": (-0.01,)},
        {"rotation_magnitudes_deg": (float("nan"),)},
        {"axes": ("x", "sideways")},
    ],
)
def test_bad_vocabularies(kwargs):
    with pytest.raises(ValueError):
        Vocabulary.build(**kwargs)


def test_paraphrases_cover_every_motion_and_keep_meaning(vocab):
    rng = np.random.default_rng(0)
    for motion in vocab:
        options = paraphrases(vocab, motion.id)
        assert options[0] == motion.text
        assert len(options) >= 5 and len(set(options)) == len(options)
        assert random_paraphrase(vocab, motion.id, rng) in options
    left_small = paraphrases(vocab, vocab.id_of("move the arm to the left by 1 centimeter"))
    assert any("slightly" in p for p in left_small) and not any("a lot" in p for p in left_small)
    assert all("left" in p for p in left_small)
    right_big = paraphrases(vocab, vocab.id_of("move the arm to the right by 20 centimeters"))
    assert any("a lot" in p for p in right_big) and all("right" in p for p in right_big)


def test_vocabulary_serialisation_round_trip():
    import json

    vocab = default_vocabulary()
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again is vocab  # the shared default comes back
    custom = Vocabulary.build(position_magnitudes=(0.02, 0.08), rotation_magnitudes_deg=(30,), name="coarse")
    back = Vocabulary.from_dict(json.loads(json.dumps(custom.to_dict())))
    assert back == custom and back.texts == custom.texts
    np.testing.assert_array_equal(back.deltas, custom.deltas)
    with pytest.raises(ValueError, match="not a serialised vocabulary"):
        Vocabulary.from_dict({"name": "x"})
