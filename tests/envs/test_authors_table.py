"""The CLIP-RT authors' motion table (language_to_action.json): read, write, and run in our vocabularies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cliprt_envs.motions import (
    AUTHORS_TABLE_FILE,
    Vocabulary,
    authors_vocabulary,
    default_vocabulary,
    motion_map,
    read_authors_table,
    write_authors_table,
)
from cliprt_envs.motions.authors_table import spell_number

R45 = math.radians(45)

#: A small table in the authors' format: text -> "[8 numbers]", the last an absolute gripper state.
TABLE = {
    "move the arm back by five centimeters": "[-0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]",
    "move the arm to the left by five centimeters": "[0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]",
    "lower the arm by twenty centimeters": "[0.0, 0.0, -0.2, 0.0, 0.0, 0.0, 0.0, 1.0]",
    "tilt arm up fourty five degrees": f"[0.0, 0.0, 0.0, 0.0, {-R45!r}, 0.0, 0.0, 1.0]",
    "rotate the gripper fourty five degrees clockwise": f"[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, {R45!r}, 1.0]",
    "close the gripper": "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
    "open the gripper": "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]",
}


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / AUTHORS_TABLE_FILE
    path.write_text(json.dumps(TABLE))  # one line, as the authors' file
    return path


def test_reading_keeps_texts_and_order_and_maps_the_absolute_gripper(table_file):
    vocab = read_authors_table(table_file)
    assert vocab.texts == tuple(TABLE)  # exactly, "fourty" included
    assert [m.axis for m in vocab] == ["x", "y", "z", "pitch", "gripper_rotation", "gripper", "gripper"]
    # arm motions keep the gripper (their 1.0 only says "open"); open/close become +1/-1 commands
    assert np.all(vocab.deltas[:5, 7] == 0.0)
    assert vocab["close the gripper"].delta[7] == -1.0 and vocab["open the gripper"].delta[7] == 1.0
    assert vocab.gripper_ids == (5, 6)
    assert np.allclose(vocab["tilt arm up fourty five degrees"].delta, [0, 0, 0, 0, -R45, 0, 0, 0])
    assert vocab.position_magnitudes == (0.05, 0.2) and np.allclose(vocab.rotation_magnitudes, [R45])
    assert vocab["lower the arm by twenty centimeters"].level == 1
    assert Vocabulary.from_authors_table(table_file) == vocab


def test_round_trip_writes_the_same_file(table_file, tmp_path):
    vocab = read_authors_table(table_file)
    out = write_authors_table(vocab, tmp_path / "again" / AUTHORS_TABLE_FILE)
    assert out.read_text() == table_file.read_text()
    assert vocab.to_authors_table(tmp_path / "twice.json").read_text() == table_file.read_text()
    assert read_authors_table(out) == vocab


def test_authors_vocabulary_is_the_paper_table_in_their_words(tmp_path):
    ours, theirs = default_vocabulary(), authors_vocabulary()
    assert len(theirs) == 58 and np.array_equal(theirs.deltas, ours.deltas)
    for text in (
        "move the arm back by twenty centimeters",
        "move the arm forward by one centimeter",
        "move the arm to the left by five centimeters",
        "raise the arm up by ten centimeters",
        "roll arm ninety degrees counterclockwise",
        "tilt arm up fourty five degrees",
        "yaw arm fifteen degrees clockwise",
        "rotate the gripper five degrees counterclockwise",
    ):
        assert text in theirs.texts
    assert theirs.texts[0] == "move the arm back by twenty centimeters" and theirs.texts[-2:] == ours.texts[-2:]
    table = json.loads(write_authors_table(theirs, tmp_path / AUTHORS_TABLE_FILE).read_text())
    assert table["tilt arm up fourty five degrees"] == "[0.0, 0.0, 0.0, 0.0, -0.7853981633974483, 0.0, 0.0, 1.0]"
    assert table["close the gripper"].endswith("0.0]") and table["open the gripper"].endswith("1.0]")
    assert read_authors_table(tmp_path / AUTHORS_TABLE_FILE, name=theirs.name) == theirs


def test_numbers_are_spelled_as_the_authors_spell_them():
    assert [spell_number(n) for n in (1, 5, 15, 20, 45, 90, 120)] == [
        "one",
        "five",
        "fifteen",
        "twenty",
        "fourty five",
        "ninety",
        "one hundred twenty",
    ]
    assert spell_number(2.5) == "2.5"


def test_their_motions_run_as_ours_with_the_same_delta_or_the_nearest():
    assert motion_map(authors_vocabulary(), default_vocabulary()).tolist() == list(range(58))
    coarse = Vocabulary.build((0.05,), (45.0,))
    mapping = motion_map(authors_vocabulary(), coarse)
    theirs = authors_vocabulary()
    for m in theirs:
        target = coarse[int(mapping[m.id])]
        assert target.axis == m.axis and target.sign == m.sign  # same direction, the coarse magnitude


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"tilt and move": "[0.1, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 1.0]"}', "moves along"),
        ('{"a": "[0.1, 0.0]"}', "8 finite numbers"),
        ('{"a": "not numbers"}', "not a list of 8 numbers"),
        ('{"a": "[0.1, 0, 0, 0, 0, 0, 0, 1]", "a": "[0.2, 0, 0, 0, 0, 0, 0, 1]"}', "appears twice"),
        ('{"a": "[0.1, 0, 0, 0, 0, 0, 0, 1]", "b": "[0.1, 0, 0, 0, 0, 0, 0, 1]"}', "same motion"),
        ("[1, 2]", "non-empty JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_tables_say_what_is_wrong(tmp_path, content, match):
    path = tmp_path / AUTHORS_TABLE_FILE
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        read_authors_table(path)


def test_a_missing_table_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_authors_table(tmp_path / "nope.json")
