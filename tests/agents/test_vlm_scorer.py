"""The VLM scorer against a local fake server speaking the chat-completions API (FastAPI + uvicorn in a thread)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import time

import numpy as np
import pytest
from fastapi import FastAPI, Request  # at module level: FastAPI reads the handler's annotations
from fastapi.responses import JSONResponse

from cliprt_agents.vlm_scorer import VLMScorer, VLMScorerConfig, parse_verdict
from cliprt_envs.motions import default_vocabulary

V = default_vocabulary()
KEY = "sk-test-never-log-me-4711"
pytestmark = pytest.mark.timeout(120)


def _reply(mode: str, candidates: list[str]) -> str:
    replies = {
        "good": json.dumps({"appropriate": [candidates[1]], "inappropriate": [candidates[0]]}),
        "fenced": "Sure.\n```json\n" + json.dumps({"appropriate": [2], "inappropriate": [1]}) + "\n```",
        "malformed": '{"appropriate": ["' + candidates[1] + '", oops',
        "unknown": json.dumps({"appropriate": ["do a little dance"], "inappropriate": []}),
        "both": json.dumps({"appropriate": [candidates[0]], "inappropriate": [candidates[0]]}),
        "prose": "I think the second one looks best.",
    }
    return replies[mode]


def fake_chat_app(requests: list):
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        requests.append({"headers": dict(request.headers), "body": body})
        mode = body["model"]
        if mode in ("401", "500"):
            return JSONResponse({"error": {"message": f"fake {mode}"}}, status_code=int(mode))
        if mode == "slow":
            await asyncio.sleep(3.0)
            mode = "good"
        text = body["messages"][0]["content"][0]["text"]
        candidates = re.findall(r"^\d+\. (.+)$", text, flags=re.MULTILINE)
        return {"choices": [{"message": {"role": "assistant", "content": _reply(mode, candidates)}}]}

    return app


@pytest.fixture(scope="module")
def server():
    from cliprt_data.teleop.web.server import BackgroundServer

    requests: list = []
    with BackgroundServer(fake_chat_app(requests), port=0) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1", requests


def scorer_for(server, model: str, **kw) -> VLMScorer:
    url, _ = server
    return VLMScorer(VLMScorerConfig(url=url, model=model, api_key=KEY, **kw))


def observation(batch: int = 0) -> dict:
    rng = np.random.default_rng(0)
    if batch:
        return {
            "image": rng.integers(0, 255, (batch, 64, 64, 3), dtype=np.uint8),
            "instruction": ["pick up the red cube"] * batch,
        }
    return {"image": rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), "instruction": "pick up the red cube"}


def scores(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(len(V))


def test_a_good_verdict_becomes_factors_and_the_request_carries_image_instruction_candidates_and_key(server):
    _, requests = server
    scorer = scorer_for(server, "good", top_k=5)
    s = scores()
    factors = scorer(observation(), V, s)
    top = np.argsort(-s)[:5]
    assert factors[top[0]] == pytest.approx(0.1) and factors[top[1]] == pytest.approx(2.0)
    assert np.count_nonzero(factors != 1.0) == 2 and scorer.stats.calls == 1 and scorer.stats.fallbacks == 0
    sent = requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    text, image = sent["body"]["messages"][0]["content"]
    assert "pick up the red cube" in text["text"] and all(V.text(int(i)) in text["text"] for i in top)
    assert V.text(int(np.argsort(-s)[5])) not in text["text"]  # only the top-k are offered
    from PIL import Image

    png = Image.open(io.BytesIO(base64.b64decode(image["image_url"]["url"].split(",", 1)[1])))
    assert min(png.size) >= 224  # 64 px camera images are enlarged for the model


def test_the_policy_chooses_with_the_verdict(server, make_model):
    from cliprt_agents.policy import CLIPRTPolicy

    policy = CLIPRTPolicy(make_model(), V)
    obs = observation()
    own = policy.scores(obs)
    policy.scorer = scorer_for(server, "fenced", top_k=3)  # numbers in a code fence: 2 good, 1 bad
    chosen = policy.act(obs)
    top = np.argsort(-own)[:3]
    factors = policy.last_step.factors[0]  # the step's (B, N) record
    assert chosen == int(np.argmax(own * factors)) and chosen != top[0]
    assert factors[top[0]] == pytest.approx(0.1) and factors[top[1]] == pytest.approx(2.0)


def test_batches_get_one_verdict_per_env(server):
    scorer = scorer_for(server, "good")
    factors = scorer(observation(batch=2), V, np.stack([scores(1), scores(2)]))
    assert factors.shape == (2, len(V)) and scorer.stats.calls == 2


@pytest.mark.parametrize(
    ("model", "reason", "says"),
    [
        ("malformed", "nonsense", "not valid JSON"),
        ("unknown", "nonsense", "not one of the candidate motions"),
        ("both", "nonsense", "both appropriate and inappropriate"),
        ("prose", "nonsense", "no JSON object"),
        ("401", "failed", "HTTP 401"),
        ("500", "failed", "HTTP 500"),
    ],
)
def test_bad_replies_fall_back_to_the_policys_scores_with_a_warning_and_never_log_the_key(server, caplog, model, reason, says):
    scorer = scorer_for(server, model)
    with caplog.at_level(logging.WARNING, logger="cliprt_agents.vlm_scorer"):
        factors = scorer(observation(), V, scores())
    np.testing.assert_array_equal(factors, np.ones(len(V)))
    assert scorer.stats.fallbacks == 1 and scorer.stats.reasons == {reason: 1}
    assert says in caplog.text and "own scores" in caplog.text
    assert KEY not in caplog.text and KEY not in repr(scorer.config)


def test_a_slow_model_costs_at_most_the_timeout(server, caplog):
    scorer = scorer_for(server, "slow", timeout_s=0.5)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="cliprt_agents.vlm_scorer"):
        factors = scorer(observation(), V, scores())
    assert time.perf_counter() - start < 2.0
    np.testing.assert_array_equal(factors, np.ones(len(V)))
    assert scorer.stats.reasons == {"timeout": 1} and "0.5 s" in caplog.text


def test_an_unreachable_endpoint_falls_back():
    scorer = VLMScorer(VLMScorerConfig(url="http://127.0.0.1:9/v1", model="m", timeout_s=1.0))
    np.testing.assert_array_equal(scorer(observation(), V, scores()), np.ones(len(V)))
    assert scorer.stats.reasons == {"failed": 1}


def test_settings_come_from_the_translators_variables_and_are_checked():
    config = VLMScorerConfig.from_env({"CLIPRT_LLM_URL": "http://h:1/v1", "CLIPRT_LLM_MODEL": "m", "CLIPRT_LLM_API_KEY": KEY})
    assert config.url == "http://h:1/v1" and config.model == "m" and config.api_key == KEY and KEY not in repr(config)
    with pytest.raises(ValueError, match="CLIPRT_LLM_URL"):
        VLMScorerConfig.from_env({})
    for bad in ({"top_k": 0}, {"timeout_s": 0}, {"prompt": "no placeholder"}, {"penalty": -1}):
        with pytest.raises(ValueError):
            VLMScorerConfig(url="u", model="m", **bad)


def test_parse_verdict_reads_texts_numbers_and_listed_forms():
    c = [V.text(0), V.text(1), V.text(2)]
    assert parse_verdict(json.dumps({"appropriate": [f"2. {c[1]}"], "inappropriate": [3]}), c) == ([c[1]], [c[2]])
    assert parse_verdict('{"appropriate": [], "inappropriate": ["' + c[0].upper() + '"]}', c) == ([], [c[0]])
