"""The agent: cached inference, batching, selection, external scorers and human corrections."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from cliprt_agents.policy import CLIPRTPlusPolicy, CLIPRTPolicy
from cliprt_agents.protocols import Agent, ScoringAgent, appropriateness_factors
from cliprt_envs.motions import UnknownMotionError


def _batch(toy_data, idx):
    items = [toy_data[i] for i in idx]
    return {"image": np.stack([it["image"] for it in items]), "instruction": tuple(it["instruction"] for it in items)}


@pytest.fixture
def policy(make_model, vocabulary):
    return CLIPRTPolicy(make_model(seed=1), vocabulary)


def test_follows_the_agent_protocol(policy):
    assert isinstance(policy, Agent) and isinstance(policy, ScoringAgent)
    assert policy.continuous is False and policy.needs_env is False


def test_single_and_batched_observations_agree(policy, toy_data):
    batch = _batch(toy_data, range(5))
    scores = policy.scores(batch)
    assert scores.shape == (5, 58) and np.all((scores > 0) & (scores < 1))
    actions = policy.act(batch)
    assert actions.shape == (5,) and actions.dtype == np.int64
    for i in range(5):
        single = {"image": batch["image"][i], "instruction": batch["instruction"][i]}
        assert np.allclose(policy.scores(single), scores[i], atol=1e-5)
        assert isinstance(policy.act(single), int)
    assert np.array_equal(actions, scores.argmax(axis=1))


def test_motion_texts_encoded_once_and_instructions_once_per_episode(policy, toy_data, monkeypatch):
    calls = []
    original = policy.model.encode_text
    monkeypatch.setattr(policy.model, "encode_text", lambda tokens: calls.append(tokens.shape[0]) or original(tokens))
    obs = {"image": toy_data[0]["image"], "instruction": "move sideways to the red square"}
    policy.reset(obs["instruction"])
    assert calls == [1]  # the prompt, once; motion texts were encoded when the policy was built
    for _ in range(5):
        policy.act(obs)
    assert calls == [1]  # a step is one image forward pass and a matmul
    policy.act({**obs, "instruction": "move forward or back to the red square"})
    assert calls == [1, 1]


def test_cached_inference_equals_full_recomputation(policy, vocabulary, toy_data):
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import motion_token_rows

    item = toy_data[0]
    batch = collator_for(policy.model, vocabulary)([item])
    with torch.no_grad():
        out = policy.model(batch["images"], batch["prompt_tokens"], batch["prompt_index"])
        z = policy.model.motion_embeddings(motion_token_rows(policy.model, vocabulary))
        logits = out["logit_scale"] * out["context"] @ z.T
    assert np.allclose(policy.logits({"image": item["image"], "instruction": item["instruction"]}), logits[0].numpy(), atol=1e-4)


def test_scorer_factors_multiply_scores_before_the_choice(policy, vocabulary, toy_data):
    obs = {"image": toy_data[0]["image"], "instruction": toy_data[0]["instruction"]}
    first = policy.act(obs)
    target = vocabulary.id_of("open the gripper")
    seen = {}

    def scorer(observation, vocab, scores):
        seen["scores"] = scores
        return appropriateness_factors(vocab, appropriate=[target], inappropriate=[first], boost=1e6, penalty=0.0)

    policy.scorer = scorer
    assert policy.act(obs) == target
    assert seen["scores"].shape == (58,)
    record = policy.last_step
    assert np.allclose(record.final, record.scores * record.factors)
    policy.scorer = lambda o, v, s: np.ones(3)
    with pytest.raises(ValueError, match="shape"):
        policy.act(obs)


def test_corrections_override_one_step_and_are_logged(policy, vocabulary, toy_data, caplog):
    batch = _batch(toy_data, range(3))
    predicted = policy.act(batch)
    text = "move the arm back by 20 centimeters"
    policy.correct(text, env_index=1)
    with caplog.at_level(logging.INFO, logger="cliprt_agents.policy"):
        corrected = policy.act(batch)
    assert corrected[1] == vocabulary.id_of(text)
    assert corrected[0] == predicted[0] and corrected[2] == predicted[2]
    assert policy.last_step.corrected.tolist() == [False, True, False]
    assert policy.act(batch)[1] == predicted[1]  # only one step
    (record,) = policy.corrections
    assert record.env_index == 1 and record.step == 1 and record.source == "vocabulary" and record.predicted_id == predicted[1]
    assert "correction" in caplog.text


def test_corrections_in_free_language(policy, vocabulary):
    assert policy.translate("move left a lot") == (vocabulary.id_of("move the arm to the left by 20 centimeters"), "paraphrase")
    with pytest.raises(UnknownMotionError, match="translator"):
        policy.correct("scoot over towards the mug please")
    policy.translator = lambda text, vocab: "raise the arm up by 10 centimeters" if "mug" in text else None
    assert policy.correct("scoot over towards the mug please") == vocabulary.id_of("raise the arm up by 10 centimeters")
    with pytest.raises(UnknownMotionError):
        policy.correct("do a barrel roll")


def test_sampling_is_seeded_and_follows_the_scores(make_model, vocabulary, toy_data):
    model = make_model(seed=1)
    obs = _batch(toy_data, [0] * 200)
    a = CLIPRTPolicy(model, vocabulary, selection="sample", seed=5).act(obs)
    b = CLIPRTPolicy(model, vocabulary, selection="sample", seed=5).act(obs)
    assert np.array_equal(a, b)
    assert len(set(a.tolist())) > 1  # an untrained model's scores are nearly flat: samples spread
    cold = CLIPRTPolicy(model, vocabulary, selection="sample", temperature=1e-7, seed=5).act(obs)
    greedy = CLIPRTPolicy(model, vocabulary).act(obs)
    assert np.array_equal(cold, greedy)


def test_bad_observations_are_explained(policy):
    with pytest.raises(ValueError, match="'image' and 'instruction'"):
        policy.act({"image": np.zeros((8, 8, 3), np.uint8)})
    with pytest.raises(ValueError, match="2 images but 3 instructions"):
        policy.act({"image": np.zeros((2, 8, 8, 3), np.uint8), "instruction": ["a", "b", "c"]})


def test_plus_policy_runs_chunks_open_loop_then_replans(make_model, vocabulary, toy_data, monkeypatch):
    policy = CLIPRTPlusPolicy(make_model("plus", chunk_size=4), vocabulary, execute_steps=3)
    assert policy.continuous is True
    calls = []
    original = policy.predict_chunk
    monkeypatch.setattr(policy, "predict_chunk", lambda obs: calls.append(len(obs["instruction"])) or original(obs))
    batch = _batch(toy_data, range(2))
    policy.reset()
    actions = [policy.act(batch) for _ in range(4)]
    assert actions[0].shape == (2, 8) and actions[0].dtype == np.float32
    assert calls == [2, 2]  # steps 0-2 from the first chunk, re-plan at step 3
    assert set(np.unique(actions[0][:, 7])) <= {-1.0, 0.0, 1.0}
    assert np.all(actions[0][:, 6] == 0)  # a 7-D model leaves gripper rotation alone
    policy.correct("open the gripper", env_index=0)
    a = policy.act(batch)
    assert np.array_equal(a[0], vocabulary.delta(vocabulary.id_of("open the gripper")).astype(np.float32))
