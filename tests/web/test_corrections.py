"""Language corrections of a running policy at a terminal: through the translator, overriding one step, logged."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401
from cliprt_data.recorder import DatasetRecorder, RecorderConfig
from cliprt_data.storage import DatasetReader, StorageConfig
from cliprt_data.teleop.corrections import ConsoleCorrectionUser, CorrectionSession
from cliprt_data.translate import RuleTranslator
from cliprt_envs.language_env import expert_action
from cliprt_envs.motions import default_vocabulary

from .conftest import PICK, SMALL

V = default_vocabulary()


def run_session(tmp_path, agent, inputs):
    env = gym.make(PICK, image_size=SMALL)
    config = RecorderConfig(storage=StorageConfig(jpeg=False), source="policy", step_kind="policy", save_on_reset=False)
    rec = DatasetRecorder(env, tmp_path / "run-v0", config=config)
    feed = iter(inputs)  # the first answer is the instruction prompt's ("": keep the task's)
    said: list[str] = []
    user = ConsoleCorrectionUser(input_fn=lambda prompt: next(feed), print_fn=said.append)
    session = CorrectionSession(rec, RuleTranslator(V), user, agent)
    try:
        outcome = session.run_episode(seed=0)
    finally:
        rec.close()
    return session, outcome, said


class Repeater:
    """An agent without correct(): always the same motion (the session overrides its step itself)."""

    continuous = False
    needs_env = False

    def __init__(self, motion: int) -> None:
        self.motion = motion
        self.calls = 0

    def reset(self, instruction=None, env_index=None) -> None:
        pass

    def act(self, observation):
        self.calls += 1
        return self.motion


def test_a_correction_overrides_one_step_and_is_logged_with_what_the_agent_wanted(tmp_path):
    up = V.id_of("raise the arm up by 5 centimeters")
    agent = Repeater(up)
    session, outcome, said = run_session(tmp_path, agent, ["", "", "do the thing", "move left a bit", "", "undo", "", "success"])
    assert outcome.saved and outcome.steps == 3
    [record] = session.corrections
    assert record.utterance == "move left a bit" and "left" in record.motion_text
    assert record.wanted_id == up and record.step == 1
    assert any("correction:" in line and "wanted" in line for line in said)
    assert any(line.startswith("  ?") for line in said)  # the unclear one was asked about, not executed
    with DatasetReader(tmp_path / "run-v0") as reader:
        ep = reader.episode(0)
    assert ep.step_kinds == ["policy", "teleop", "policy"]  # a correction is the person's supervision
    assert ep.supervision[1] == "move left a bit" and V.text(int(ep.motion_ids[1])) == record.motion_text
    assert list(ep.labelled) == [False, True, False]  # only the person's words become training labels
    [saved] = ep.meta["corrections"]
    assert saved["wanted_id"] == up and saved["utterance"] == "move left a bit"


@pytest.mark.timeout(120)
def test_clip_rt_is_corrected_through_its_own_correct_and_the_translator(tmp_path):
    pytest.importorskip("torch")
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT
    from cliprt_agents.policy import load_policy

    policy = load_policy(SHIPPED_CHECKPOINT)
    env = gym.make(PICK, image_size=SMALL)
    obs, _ = env.reset(seed=0)
    policy.reset(obs["instruction"])
    wanted = policy.act(obs)
    right = V.id_of("move the arm to the right by 5 centimeters")
    utterance = "a bit more to the right" if wanted != right else "move left a bit"
    session, outcome, _ = run_session(tmp_path, policy, ["", utterance, "done"])
    [record] = session.corrections
    [own] = policy.corrections  # the policy's own log, through policy.correct()
    assert own.motion_id == record.motion_id != record.wanted_id == own.predicted_id == wanted
    assert record.source == "rules" and outcome.saved
    assert np.isfinite(policy.last_step.scores).all()

    down = V.id_of("lower the arm by 1 centimeter")
    policy.scorer = lambda obs, vocabulary, scores: [0.1 if k == down else 1.0 for k in range(len(vocabulary))]
    _, _, said = run_session(tmp_path / "scored", policy, ["", "", "done"])  # the person sees the scorer's verdict
    assert any(line.strip() == "scorer: up -; down lower the arm by 1 centimeter" for line in said)


def test_continuous_agents_are_refused(tmp_path):
    class Plus(Repeater):
        continuous = True

    env = gym.make(PICK, image_size=SMALL)
    rec = DatasetRecorder(env, tmp_path / "x-v0")
    try:
        with pytest.raises(ValueError, match="CLIP-RT\\+"):
            CorrectionSession(rec, RuleTranslator(V), ConsoleCorrectionUser(), Plus(0))
    finally:
        rec.close()


def test_the_expert_can_drive_and_be_corrected(tmp_path):
    from cliprt_agents.registry import AgentSpec
    from cliprt_agents.scripted import expert_agent

    agent = expert_agent(AgentSpec.parse("expert"), V, 0)
    env = gym.make(PICK, image_size=SMALL)
    env.reset(seed=0)
    first = expert_action(env)
    session, outcome, _ = run_session(tmp_path, agent, ["", "close the gripper", "done"])
    [record] = session.corrections
    assert record.wanted_id == first and record.motion_text == "close the gripper" and outcome.steps == 1


def test_a_scorer_needs_an_agent_that_scores(monkeypatch):
    from cliprt_agents.vlm_scorer import VLMScorer
    from cliprt_data.teleop.run_command import attach_scorer

    agent = Repeater(0)
    attach_scorer(agent, "none")  # nothing to attach
    with pytest.raises(ValueError, match="scores motions"):
        attach_scorer(agent, "vlm")
    agent.scorer = None  # a policy's scorer hook (CLIP-RT)
    monkeypatch.setenv("CLIPRT_LLM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CLIPRT_LLM_MODEL", "a-vlm")
    attach_scorer(agent, "vlm")
    assert isinstance(agent.scorer, VLMScorer) and agent.scorer.config.model == "a-vlm"


def test_a_missing_browser_fails_the_browser_tests_naming_make_sysdeps(monkeypatch):
    from . import conftest

    monkeypatch.setattr(conftest, "CHROMIUM", "/nonexistent/chromium")
    problem = conftest._missing_browser()
    assert problem and "make sysdeps" in problem and "/nonexistent/chromium" in problem
