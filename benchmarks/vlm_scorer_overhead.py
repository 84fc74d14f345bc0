"""What the VLM scorer adds to a policy step, apart from the model's own thinking time.

Runs CLIP-RT (the shipped ``cliprt-ur5sim-v6``, wrist view, 64 px) on Pick for
--steps steps, choosing each motion with and without a
:class:`~cliprt_agents.vlm_scorer.VLMScorer` whose endpoint is a local fake
chat-completions server that answers at once (FastAPI + uvicorn in a thread).
The difference per step is the scorer's own overhead: the image as PNG, the
request, HTTP on loopback, parsing and validating the verdict. A real model's
latency comes on top of it (and is capped by ``timeout_s``).

    python -m benchmarks.vlm_scorer_overhead --steps 100
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

from fastapi import FastAPI, Request  # at module level: FastAPI reads the handler's annotations


def instant_verdicts() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        candidates = re.findall(r"^\d+\. (.+)$", body["messages"][0]["content"][0]["text"], flags=re.MULTILINE)
        verdict = {"appropriate": candidates[1:2], "inappropriate": candidates[:1]}
        return {"choices": [{"message": {"role": "assistant", "content": json.dumps(verdict)}}]}

    return app


def time_steps(policy, env, steps: int) -> list[float]:
    obs, _ = env.reset(seed=0)
    policy.reset(obs["instruction"])
    out = []
    for k in range(steps):
        start = time.perf_counter()
        action = policy.act(obs)
        out.append(1000 * (time.perf_counter() - start))
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset(seed=k + 1)
            policy.reset(obs["instruction"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()
    import gymnasium as gym

    import cliprt_envs  # noqa: F401
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT
    from cliprt_agents.policy import load_policy
    from cliprt_agents.vlm_scorer import VLMScorer, VLMScorerConfig
    from cliprt_data.teleop.web.server import BackgroundServer

    env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64, camera="wrist")
    policy = load_policy(SHIPPED_CHECKPOINT)
    time_steps(policy, env, 5)  # warm up
    plain = time_steps(policy, env, args.steps)
    with BackgroundServer(instant_verdicts(), port=0) as server:
        scorer = VLMScorer(VLMScorerConfig(url=f"http://127.0.0.1:{server.port}/v1", model="fake", top_k=args.top_k))
        policy.scorer = scorer
        time_steps(policy, env, 5)
        scored = time_steps(policy, env, args.steps)
    a, b = statistics.median(plain), statistics.median(scored)
    print(f"policy step without scorer: median {a:.2f} ms; with the VLM scorer (instant fake endpoint): median {b:.2f} ms")
    stats = scorer.stats
    print(f"scorer overhead per step: {b - a:.2f} ms (x{b / a:.2f}); fallbacks {stats.fallbacks} of {stats.calls} calls")


if __name__ == "__main__":
    main()
