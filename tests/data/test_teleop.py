"""Teleoperation sessions (typed input, commands, validation) and scripted collection."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401
from cliprt_data.recorder import DatasetRecorder, RecorderConfig
from cliprt_data.storage import DatasetReader, StorageConfig, check_dataset
from cliprt_data.teleop import (
    ConsoleUser,
    ScriptedUser,
    TeleopConfig,
    TeleopSession,
    collect_demonstrations,
    natural_phrase,
    parse_command,
)
from cliprt_data.translate import RuleTranslator, Translation
from cliprt_envs.motions import default_vocabulary

from .conftest import PICK, SMALL

V = default_vocabulary()


class CountingEnv(gym.Wrapper):
    """Counts env.step calls: proves that refused translations never move the robot."""

    def __init__(self, env):
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        return self.env.step(action)


def make_session(tmp_path, inputs, translator=None, name="teleop-v0"):
    env = CountingEnv(gym.make(PICK, image_size=SMALL))
    rec = DatasetRecorder(
        env, tmp_path / name, config=RecorderConfig(storage=StorageConfig(jpeg=False), source="teleop", step_kind="teleop")
    )
    feed = iter(inputs)
    said: list[str] = []
    user = ConsoleUser(input_fn=lambda prompt: next(feed), print_fn=said.append)
    session = TeleopSession(rec, translator or RuleTranslator(V), user, TeleopConfig(view_path=tmp_path / "view.png"))
    return session, rec, env, said


def test_typed_session_with_undo_and_success(tmp_path):
    inputs = [
        "",  # keep the task's instruction
        "help",
        "move left and down a bit",  # unclear: asks again
        "undo",  # nothing to undo yet
        "raise the arm 5 cm",
        "move left a bit",
        "undo",
        "lower the arm five centimeters",
        "success",
    ]
    session, rec, env, said = make_session(tmp_path, inputs)
    try:
        outcome = session.run_episode(seed=0)
    finally:
        session.close()
        rec.close()
    assert outcome.saved and outcome.success and outcome.steps == 2 and outcome.index == 0
    assert env.steps == 3  # the unclear input moved nothing; the undone step had moved
    text = "\n".join(said)
    assert "one motion at a time" in text and "nothing to undo" in text and "undone" in text and "Commands:" in text
    assert (tmp_path / "view.png").exists()
    from PIL import Image

    assert min(Image.open(tmp_path / "view.png").size) >= 256  # small images are enlarged for people
    with DatasetReader(tmp_path / "teleop-v0") as reader:
        ep = reader.episode(0)
    assert ep.supervision == ["raise the arm 5 cm", "lower the arm five centimeters"]
    assert [V.text(i) for i in ep.motion_ids] == ["raise the arm up by 5 centimeters", "lower the arm by 5 centimeters"]
    assert ep.step_kinds == ["teleop", "teleop"] and ep.meta["success"] and ep.terminations[-1]
    # after raise then lower, the arm is back where it started
    np.testing.assert_allclose(ep.observations["proprio"][-1][:3], ep.observations["proprio"][0][:3], atol=3e-3)


def test_discard_quit_and_instruction(tmp_path):
    inputs = ["put the red cube somewhere nice", "move left a bit", "discard", "", "raise the arm a bit", "done", "", "quit"]
    session, rec, _env, _said = make_session(tmp_path, inputs)
    try:
        first = session.run_episode(seed=0)
        second = session.run_episode(seed=1)
        third = session.run_episode(seed=2)
    finally:
        session.close()
        rec.close()
    assert not first.saved and first.reason == "discard"
    assert second.saved and not second.success and second.steps == 1
    assert third.quit and not third.saved
    info = check_dataset(tmp_path / "teleop-v0")
    assert info.total_episodes == 1


def test_instruction_is_recorded_as_given(tmp_path):
    session, rec, _env, _said = make_session(tmp_path, ["pick up the odd one", "raise the arm a bit", "done"])
    try:
        session.run_episode(seed=3)
    finally:
        rec.close()
    with DatasetReader(tmp_path / "teleop-v0") as reader:
        ep = reader.episode(0)
    assert set(ep.observations["instruction"]) == {"pick up the odd one"}


class BadTranslator:
    """Answers that must all be refused before anything moves."""

    def __init__(self):
        self.vocabulary = V
        self.answers = iter([Translation("a", 999), Translation("b", 3, "close the gripper"), Translation("c", None, None, "")])

    def translate(self, text, *, instruction=""):
        try:
            return next(self.answers)
        except StopIteration:
            return RuleTranslator(V).translate(text)


def test_invalid_translations_never_move_the_robot(tmp_path):
    session, rec, env, said = make_session(
        tmp_path, ["", "x", "y", "z", "raise the arm a bit", "done"], translator=BadTranslator()
    )
    try:
        outcome = session.run_episode(seed=0)
    finally:
        rec.close()
    assert env.steps == 1 and outcome.steps == 1
    assert sum(line.startswith("  ?") for line in said) == 3


def test_natural_phrases_vary_and_stay_translatable():
    rng = np.random.default_rng(0)
    tr = RuleTranslator(V)
    mid = V.id_of("move the arm to the left by 5 centimeters")
    phrases = {natural_phrase(V, mid, rng) for _ in range(300)}
    assert len(phrases) > 40
    assert all(tr.translate(p).motion_id == mid for p in phrases)


def test_collect_command_end_to_end(tmp_path, capsys):
    from cliprt.cli import main

    out = tmp_path / "collect-v0"
    rc = main(["collect", "--env", PICK, "--episodes", "2", "--out", str(out), "--image-size", str(SMALL), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "saved 2 demonstrations" in printed and "0 mismatched" in printed
    report = json.loads((out / "collect_report.json").read_text())
    assert report["translation"]["mismatched"] == 0 and report["translation"]["matched"] == report["steps"]
    with DatasetReader(out) as reader:
        eps = [reader.episode(i, images=False) for i in range(2)]
    assert all(e.meta["success"] for e in eps)
    supervision = [s for e in eps for s in e.supervision]
    assert any(s not in V for s in supervision)  # people's words, not only motion texts
    assert {k for e in eps for k in e.step_kinds} == {"collect"}
    assert main(["collect", "--env", "CLIPRT-UR5Sim-Nope-v0", "--episodes", "1", "--out", str(tmp_path / "x")]) == 2


def test_collect_records_the_chosen_camera(tmp_path):
    """The view is an env kwarg in the metadata, so augmentation re-creates the same camera."""
    from cliprt.cli import main
    from cliprt_data.storage import check_dataset

    out = tmp_path / "wrist-v0"
    args = ["collect", "--env", PICK, "--episodes", "1", "--out", str(out), "--image-size", str(SMALL), "--no-progress"]
    assert main([*args, "--camera", "wrist"]) == 0
    assert check_dataset(out).env_kwargs["camera"] == "wrist"
    assert main([*args[:6], str(tmp_path / "bad-v0"), *args[7:], "--camera", "ceiling"]) == 2


class WrongOnParaphrases:
    """Right on motion texts, wrong (the opposite motion) on anything else: mismatches get counted."""

    def __init__(self):
        self.vocabulary = V
        self.rules = RuleTranslator(V)

    def translate(self, text, *, instruction=""):
        t = self.rules.translate(text)
        if text in V or not t.ok or V[t.motion_id].is_gripper:
            return t
        m = V[t.motion_id]
        return Translation(text, V.find(m.axis, -m.sign, m.level), None, "", "wrong")


def test_scripted_collection_counts_mismatches_and_keeps_expert_motions(tmp_path):
    from cliprt_data.teleop import CollectConfig

    report = collect_demonstrations(
        CollectConfig(PICK, episodes=1, image_size=SMALL, max_rephrasings=1),
        tmp_path / "wrong-v0",
        progress=False,
        translator=WrongOnParaphrases(),
    )
    tr = report["translation"]
    assert report["episodes_saved"] == 1
    assert tr["mismatched"] > 0 and tr["fallbacks"] > 0
    assert tr["examples"] and tr["examples"][0]["kind"] == "mismatch"


def test_scripted_user_gives_up_on_a_translator_that_understands_nothing(tmp_path):
    class Deaf:
        vocabulary = V

        def translate(self, text, *, instruction=""):
            return Translation(text, None, None, "what?")

    from cliprt_data.teleop import CollectConfig

    with pytest.raises(RuntimeError, match="did not understand"):
        collect_demonstrations(
            CollectConfig(PICK, episodes=1, image_size=SMALL), tmp_path / "deaf-v0", progress=False, translator=Deaf()
        )
    assert not (tmp_path / "deaf-v0").exists()  # no empty dataset left for the next try to refuse


def test_commands_are_recognised():
    assert parse_command("  UNDO ") == "undo"
    assert parse_command("Done.") == "done"
    assert parse_command(":success") == "success"
    assert parse_command("move left a bit") is None
    assert ScriptedUser.ask_instruction(object.__new__(ScriptedUser), "pick") == "pick"


def test_quit_at_the_instruction_prompt(tmp_path):
    session, rec, env, _ = make_session(tmp_path, ["quit"])
    try:
        outcome = session.run_episode(seed=0)
    finally:
        rec.close()
    assert outcome.quit and not outcome.saved and env.steps == 0
